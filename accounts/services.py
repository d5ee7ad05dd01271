from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate, logout, password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_countries.fields import Country
from knox.models import get_token_model
from knox.settings import knox_settings

from audit.services import audit_record
from common import ratelimit
from common.crypto import email_blind_index, normalize_email

from .models import Role, User
from .roles import ROLE_GROUPS, role_apply
from .selectors import user_by_email, user_preferences
from .verification import MAIL_ALREADY_REGISTERED, email_verification_queue


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None = None,
    name: str = "",
    role: str = Role.USER,
    company: str = "",
    phone: str = "",
    country: str = "",
    actor: User | None = None,
    **extra,
) -> User:
    return User.objects.create_user(
        email,
        password,
        actor=actor,
        name=name,
        role=role,
        company=company,
        phone=phone,
        country=country,
        **extra,
    )


@transaction.atomic
def user_role_change(*, user: User, role: str, actor: User | None = None) -> User:
    previous = user.role
    user.role = role
    user.full_clean()
    if previous == role:
        return user
    user.save(update_fields=["role", "updated_at"])
    role_apply(user=user)
    audit_record(
        actor=actor, action="user.role_changed", entity=user, changes={"role": [previous, user.role]}
    )
    return user


# --- Registration, log-in, log-out, profile ----------------------------------------------------------

INVALID_CREDENTIALS = "Unable to log in with the given e-mail address and password."
# What a user may change about themselves; role, e-mail and the flags are someone else's business.
PROFILE_FIELDS = frozenset({"name", "company", "phone", "country", "preferences"})


class InvalidCredentials(Exception):
    """Wrong e-mail, wrong password or inactive account: deliberately one answer for all three."""

    def __init__(self):
        super().__init__(INVALID_CREDENTIALS)


class LoginLocked(Exception):
    """Too many failed log-ins for the account or the client address; nothing is checked until then."""

    def __init__(self, *, retry_after: int, scope: str):
        super().__init__(f"log-in locked ({scope}) for {retry_after}s")
        self.retry_after = retry_after
        self.scope = scope


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str  # the only copy of the raw token: the database keeps its digest
    expiry: datetime | None


def auth_token_create(*, user: User, via: str) -> IssuedToken:
    """
    A new API token for `user`, recorded as a log-in. Expired tokens go, and beyond
    REST_KNOX["TOKEN_LIMIT_PER_USER"] the oldest go too, so a new log-in always works and a user never
    piles up tokens. Call it inside the transaction of the write that issues the token.
    """
    token_model = get_token_model()
    tokens = token_model.objects.filter(user=user)
    now = timezone.now()
    tokens.filter(expiry__lt=now).delete()
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit:
        surplus = list(tokens.order_by("-created").values_list("digest", flat=True)[limit - 1 :])
        if surplus:
            token_model.objects.filter(digest__in=surplus).delete()
    instance, token = token_model.objects.create(user=user)
    user.last_login = now
    user.save(update_fields=["last_login"])
    audit_record(actor=user, action="auth.login", entity=user, changes={"via": via})
    return IssuedToken(user=user, token=token, expiry=instance.expiry)


class RegistrationThrottled(Exception):
    def __init__(self, *, retry_after: int, scope: str):
        super().__init__(f"registration throttled ({scope}) for {retry_after}s")
        self.retry_after = retry_after
        self.scope = scope


def _registration_throttle(*, email: str, ip: str) -> None:
    # Every attempt counts, per submitted address (an HMAC, no address in the cache) and per client
    # address, before anything is checked: the answer must not depend on whether the account exists.
    window = settings.REGISTER_WINDOW
    for scope, key, limit in (
        ("ip", f"register:ip:{ip}", settings.REGISTER_MAX_PER_IP),
        ("address", f"register:address:{email_blind_index(email)}", settings.REGISTER_MAX_PER_ADDRESS),
    ):
        attempt = ratelimit.hit(key, limit=limit, window=window)
        if not attempt.allowed:
            raise RegistrationThrottled(retry_after=attempt.retry_after, scope=scope)


def user_register(
    *,
    email: str,
    password: str,
    name: str,
    ip: str,
    company: str = "",
    phone: str = "",
    country: str = "",
) -> None:
    """
    Self-service sign-up: always the `user` role, the password validators applied. The same outcome
    for a known and an unknown address, so sign-up tells nobody who has an account: a new address gets
    an account and a verification mail; a known one is left as it is and gets a mail saying it already
    has an account. No token: the user logs in. Throttled per address and per client address
    (RegistrationThrottled).
    """
    email = normalize_email(email)
    _registration_throttle(email=email, ip=ip)
    try:
        password_validation.validate_password(password, user=User(email=email, name=name))
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    existing = user_by_email(email=email)
    if existing is None:
        try:
            with transaction.atomic():
                user = user_create(
                    email=email,
                    password=password,
                    name=name,
                    company=company,
                    phone=phone,
                    country=country,
                    role=Role.USER,
                )
                email_verification_queue(user=user)
            return
        except (IntegrityError, ValidationError):
            # Two sign-ups with one address at the same moment: the other one made the account (the
            # uniqueness check or the constraint saw it), and this one gets the known-address answer.
            existing = user_by_email(email=email)
            if existing is None:
                raise
    else:
        # About the work of the new-account path (its password hash), so timing says little either.
        make_password(password)
    with transaction.atomic():
        email_verification_queue(user=existing, kind=MAIL_ALREADY_REGISTERED)


def _login_keys(*, email: str, ip: str) -> tuple[str, str]:
    # The account counter is keyed by the submitted address (an HMAC, no address in the cache), so an
    # unknown address locks exactly like a known one and the lockout reveals nothing.
    return f"login:account:{email_blind_index(email)}", f"login:ip:{ip}"


def user_login(*, email: str, password: str, ip: str, request=None) -> IssuedToken:
    """
    Checks the credentials and issues a token, under two lockouts: per account (submitted address)
    and per client address (_checked_under_lockout).
    """
    user = user_authenticate(email=email, password=password, ip=ip, request=request)
    with transaction.atomic():
        return auth_token_create(user=user, via="login")


def user_authenticate(*, email: str, password: str, ip: str, request=None) -> User:
    """
    The credential check of every log-in path (API token, admin form, browsable API form), under the
    one lockout per account and per client address. Raises LoginLocked or InvalidCredentials. The
    authentication backend itself counts nothing, so each attempt is counted once, here.
    """
    user = _checked_under_lockout(
        email=email,
        ip=ip,
        check=lambda: authenticate(request, email=email, password=password),
        failure_action="auth.login_failed",
    )
    if user is None:
        raise InvalidCredentials()
    return user


@transaction.atomic
def session_login_record(*, user: User, via: str) -> None:
    """
    The audit of a session log-in (the admin's or the browsable API's form), as auth_token_create
    records a token log-in. Django's login() that follows sets last_login.
    """
    audit_record(actor=user, action="auth.login", entity=user, changes={"via": via})


def password_confirmed(*, user: User, password: str, ip: str) -> bool:
    """
    Whether `password` is the user's, for an action that a token alone must not be enough for (the
    erasure of one's account). It counts towards the log-in lockouts: without them a stolen token
    could guess the password here without limit, then log in with it anywhere. Raises LoginLocked.
    """
    return _checked_under_lockout(
        email=user.email,
        ip=ip,
        check=lambda: bool(password) and user.check_password(password),
        failure_action="auth.password_failed",
    )


def _checked_under_lockout(*, email: str, ip: str, check, failure_action: str):
    """
    Runs a credential check for `email` under the lockouts: per account (the address) and per client
    address. A locked request is refused before the check runs, so the right password does not get
    through a lockout either. Returns what `check` returned; a falsy result is a failure, counted and
    audited as `failure_action`.

    The account counter is taken before the check (an attempt reserves its place), so parallel
    guesses cannot all slip in under the limit; a success clears it. The address counter counts
    failures only, so a busy office behind one address is not locked by its own log-ins.
    """
    window = settings.LOGIN_FAILURE_WINDOW
    account_limit = settings.LOGIN_MAX_FAILURES_PER_ACCOUNT
    ip_limit = settings.LOGIN_MAX_FAILURES_PER_IP
    account_key, ip_key = _login_keys(email=email, ip=ip)

    ip_state = ratelimit.peek(ip_key, limit=ip_limit, window=window)
    if ip_state.count >= ip_limit:
        raise LoginLocked(retry_after=ip_state.retry_after, scope="ip")
    attempt = ratelimit.hit(account_key, limit=account_limit, window=window)
    if not attempt.allowed:
        raise LoginLocked(retry_after=attempt.retry_after, scope="account")

    result = check()
    if not result:
        ip_hit = ratelimit.hit(ip_key, limit=ip_limit, window=window)
        _login_failure_record(
            action=failure_action,
            email=email,
            account_failures=attempt.count,
            ip_failures=ip_hit.count,
            account_locked=attempt.count == account_limit,
            ip_locked=ip_hit.count == ip_limit,
        )
        return result
    ratelimit.reset(account_key, window=window)
    return result


def _login_failure_record(
    *,
    action: str,
    email: str,
    account_failures: int,
    ip_failures: int,
    account_locked: bool,
    ip_locked: bool,
) -> None:
    """
    The audit of a failed log-in or password confirmation: the user when the address is known, never
    the address itself. `auth.locked` is written by the one failure whose count reaches the limit (the
    counters are atomic), so once per window and scope, not once per refused attempt.
    """
    target = user_by_email(email=email)
    entity = {"entity": target} if target else {"entity_type": User._meta.label_lower}
    audit_record(
        action=action,
        changes={"account_failures": account_failures, "ip_failures": ip_failures},
        **entity,
    )
    window = settings.LOGIN_FAILURE_WINDOW
    for scope, locked in (("account", account_locked), ("ip", ip_locked)):
        if locked:
            audit_record(action="auth.locked", changes={"scope": scope, "window": window}, **entity)


def _tokens_revoke(*, user: User) -> int:
    deleted, _ = get_token_model().objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_set(*, user: User, password: str | None, actor: User | None, via: str) -> User:
    """
    Every password change (an admin's, the user's own, a reset) goes through here: the password rules
    are applied, the new password is set (None: password log-in disabled), every API token of the user
    is deleted, and the change is audited without the password. Sessions end by themselves: Django's
    session auth hash is made from the password hash, so every session made before no longer matches.
    A caller who changes their own password over a session keeps it with update_session_auth_hash().
    """
    if password is None:
        user.set_unusable_password()
    else:
        try:
            password_validation.validate_password(password, user=user)
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
        user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    revoked = _tokens_revoke(user=user)
    audit_record(
        actor=actor,
        action="auth.password_changed",
        entity=user,
        changes={"via": via, "usable": password is not None, "api_logins_revoked": revoked},
    )
    return user


@transaction.atomic
def user_logout_all(*, user: User) -> int:
    """
    "Log out everywhere": deletes every API token of the user and ends every session, by moving the
    user's session generation on (it is part of the session auth hash, User.get_session_auth_hash).
    Returns the number of tokens revoked.
    """
    revoked = _tokens_revoke(user=user)
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])
    audit_record(actor=user, action="auth.logout_all", entity=user, changes={"api_logins_revoked": revoked})
    return revoked


@transaction.atomic
def user_logout(*, user: User, token=None, request=None) -> None:
    """
    Ends one sign-in: the token the client presented, or else the browser session of `request`. The
    user's other devices (tokens, sessions) stay logged in.
    """
    if token is not None:
        token.delete()
    else:
        logout(request)
    via = "token" if token is not None else "session"
    audit_record(actor=user, action="auth.logout", entity=user, changes={"via": via})


def _comparable(value):
    return str(value) if isinstance(value, Country) else value


@transaction.atomic
def user_update(*, user: User, actor: User | None, **fields) -> User:
    """
    Changes a user's own profile fields. `preferences` is merged key by key into the current ones.
    The audit row names the changed fields, never their values (they are personal data).
    """
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"user_update cannot change: {', '.join(sorted(unknown))}")
    if "preferences" in fields:
        fields["preferences"] = {**user_preferences(user=user), **(fields["preferences"] or {})}
    previous = {name: getattr(user, name) for name in fields}
    changed = sorted(
        name for name, value in fields.items() if _comparable(previous[name]) != _comparable(value)
    )
    if not changed:
        return user
    for name in changed:
        setattr(user, name, fields[name])
    try:
        user.full_clean()
    except ValidationError:
        # The caller's object (often request.user) stays as it was.
        for name in changed:
            setattr(user, name, previous[name])
        raise
    user.save(update_fields=[*changed, "updated_at"])
    audit_record(actor=actor, action="user.updated", entity=user, changes={"fields": changed})
    return user


@transaction.atomic
def user_set_active(*, user: User, is_active: bool, actor: User | None = None) -> User:
    """Deactivating keeps the account and its history but stops every log-in and every token."""
    if user.is_active == is_active:
        return user
    user.is_active = is_active
    user.save(update_fields=["is_active", "updated_at"])
    if not is_active:
        get_token_model().objects.filter(user=user).delete()
    audit_record(actor=actor, action="user.activated" if is_active else "user.deactivated", entity=user)
    return user


@transaction.atomic
def user_admin_update(*, user: User, actor: User, changed: list[str]) -> User:
    """
    An admin's edit of a user: profile fields as the form set them, role and activation through
    their own audited services. `user` carries the new values; the stored row has the old ones.
    """
    stored = User.objects.get(pk=user.pk)
    role, is_active = user.role, user.is_active
    user.role, user.is_active = stored.role, stored.is_active
    # Credentials are not this form's business: a password change or "log out everywhere" made while
    # the form was open must not be undone (nor ended sessions revived) by saving it.
    user.password, user.session_generation = stored.password, stored.session_generation
    user.email_verified_at = stored.email_verified_at
    if normalize_email(user.email) != stored.email:
        # The proof was for the old address: the new one must be verified again before its visitor
        # forms become this account's.
        user.email_verified_at = None
    user.full_clean()
    user.save()
    profile = sorted(set(changed) - {"role", "is_active"})
    if profile:
        audit_record(actor=actor, action="user.updated", entity=user, changes={"fields": profile})
    user_role_change(user=user, role=role, actor=actor)
    user_set_active(user=user, is_active=is_active, actor=actor)
    return user


@transaction.atomic
def users_bulk_create(*, users: list[dict], via: str, batch_size: int = 500) -> list[User]:
    """
    The one bulk path for users, for seeding and benchmarks only: every user gets no usable password and
    the role `user`, and one audit row records the batch instead of one row per user. Anything a person
    does goes through user_create.
    """
    unusable = make_password(None)
    rows = [
        User(
            email=normalize_email(spec["email"]),
            name=spec.get("name", ""),
            company=spec.get("company", ""),
            country=spec.get("country", ""),
            phone=spec.get("phone", ""),
            password=unusable,
        )
        for spec in users
    ]
    User.objects.bulk_create(rows, batch_size=batch_size)
    if rows:
        # Their role's group too, as role_apply gives one user: the junction in the same few inserts.
        group, _ = Group.objects.get_or_create(name=ROLE_GROUPS[Role.USER])
        links = [User.groups.through(user_id=user.pk, group_id=group.pk) for user in rows]
        User.groups.through.objects.bulk_create(links, batch_size=batch_size)
        audit_record(
            action="user.bulk_created", entity_type="accounts.user", changes={"rows": len(rows), "via": via}
        )
    return rows
