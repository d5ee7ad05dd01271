from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac
from django_countries.fields import CountryField

from audit.services import audit_record
from common.crypto import normalize_email
from common.fields import EncryptedCharField
from common.models import BaseModel

from .roles import Role, role_apply

THEMES = ("light", "dark")
SESSION_HASH_SALT = "accounts.User.get_session_auth_hash"


# The on/off preferences. case_study_digest is opt-in: a mail of newly published case studies
# (content.digest), sent only to those who turned it on.
PREFERENCE_FLAGS = ("notifications", "case_study_digest")


def default_preferences() -> dict:
    return {"notifications": True, "case_study_digest": False, "theme": "light"}


def validate_preferences(value) -> None:
    """Only known keys with values of their type: the site reads these without further checks."""
    if not isinstance(value, dict):
        raise ValidationError("Preferences must be a JSON object.", code="invalid")
    unknown = sorted(set(value) - set(default_preferences()))
    if unknown:
        raise ValidationError(f"Unknown preference: {', '.join(unknown)}.", code="unknown")
    for flag in PREFERENCE_FLAGS:
        if flag in value and not isinstance(value[flag], bool):
            raise ValidationError(f"{flag} must be true or false.", code="invalid")
    if "theme" in value and value["theme"] not in THEMES:
        raise ValidationError(f"theme must be one of: {', '.join(THEMES)}.", code="invalid")


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, username):
        # Exact on the normalised form (common.crypto.normalize_email): every spelling that folds to the
        # stored address is that account, and no other spelling is; never `iexact` (see user_by_email).
        return self.get(email=normalize_email(username))

    # Django's hook for creating users (createsuperuser calls it); accounts.services.user_create, the
    # service the rest of the code calls, delegates here, so that both paths audit and apply the role.
    @transaction.atomic
    def create_user(self, email, password=None, *, actor=None, **fields):
        user = self.model(email=normalize_email(email), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean()
        user.save(using=self._db)
        role_apply(user=user)
        # The audit keeps ids and the role only: never the address or other PII.
        audit_record(actor=actor, action="user.created", entity=user, changes={"role": user.role})
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.pop("is_staff", None)
        fields.pop("is_superuser", None)
        return self.create_user(email, password, **{**fields, "role": Role.ADMIN})


class User(BaseModel, AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(
        "e-mail address",
        unique=True,
        error_messages={"unique": "A user with this e-mail address already exists."},
        help_text="The log-in name. Letter case does not matter.",
    )
    name = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    phone = EncryptedCharField(max_length=32, blank=True, default="")
    country = CountryField(blank=True, help_text="ISO 3166 country.")
    role = models.CharField(
        max_length=16,
        choices=Role.choices,
        default=Role.USER,
        help_text="Admins manage everything; editors manage content and impact only; users are clients.",
    )
    is_active = models.BooleanField(default=True)
    # Derived from role by accounts.roles.role_apply; never set on their own.
    is_staff = models.BooleanField(default=False, editable=False)
    preferences = models.JSONField(default=default_preferences, blank=True, validators=[validate_preferences])
    legal_hold = models.BooleanField(
        default=False, help_text="Retention and anonymisation skip a user on legal hold."
    )
    anonymized_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Set when the user opened the link of a verification mail (accounts.services.email_verify): only
    # then are the forms sent without an account with this address theirs to export and erase.
    email_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Moved on by "log out everywhere" (accounts.services.user_logout_all); see get_session_auth_hash.
    session_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]
        constraints = [
            # unique=True alone is case-sensitive on PostgreSQL; this closes Foo@x vs foo@x.
            models.UniqueConstraint(
                Lower("email"),
                name="accounts_user_email_ci_unique",
                violation_error_message="A user with this e-mail address already exists.",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values),
                name="accounts_user_role_valid",
                violation_error_message="Unknown role.",
            ),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = normalize_email(self.email)

    # Django ends a session whose stored hash no longer matches this one. Mixing the session generation
    # in ends every session of the user at once without a password change; at generation 0 the hash is
    # Django's own, so sessions made before this field existed stay valid.
    def get_session_auth_hash(self):
        if not self.session_generation:
            return super().get_session_auth_hash()
        return self._generation_session_hash(secret=None)

    def get_session_auth_fallback_hash(self):
        if not self.session_generation:
            yield from super().get_session_auth_fallback_hash()
            return
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._generation_session_hash(secret=secret)

    def _generation_session_hash(self, *, secret):
        value = f"{self.password}:{self.session_generation}"
        return salted_hmac(SESSION_HASH_SALT, value, secret=secret, algorithm="sha256").hexdigest()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def is_editor(self) -> bool:
        return self.role == Role.EDITOR
