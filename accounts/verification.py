"""
E-mail verification: proof that an account controls its address. Only a verified account owns the
forms sent without an account with that address (compliance.selectors.user_submissions).

The token is signed (django.core.signing, so it expires after EMAIL_VERIFICATION_MAX_AGE) and carries
an HMAC of the user's id, normalised address and email_verified_at: verifying sets email_verified_at,
which spends every token issued before, and a changed address kills them too.
"""

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from audit.services import audit_record
from common import ratelimit
from common.crypto import normalize_email
from common.tasks import task_delay

from .models import User

SALT = "accounts.verification"
INVALID_TOKEN = "This verification link is not valid: it has expired, was already used or is wrong."
# Which mail a sign-up gets: the link for a new account, "you already have an account" for a known one.
MAIL_VERIFY = "verify"
MAIL_ALREADY_REGISTERED = "already_registered"


class ResendThrottled(Exception):
    def __init__(self, *, retry_after: int):
        super().__init__(f"verification mail throttled for {retry_after}s")
        self.retry_after = retry_after


def _state_hash(user: User) -> str:
    verified = user.email_verified_at.isoformat() if user.email_verified_at else ""
    value = f"{user.pk}:{normalize_email(user.email)}:{verified}"
    return salted_hmac(SALT, value, algorithm="sha256").hexdigest()


def email_verification_token(*, user: User) -> str:
    return signing.dumps({"u": str(user.pk), "h": _state_hash(user)}, salt=SALT)


def email_verification_link(*, user: User) -> str:
    return settings.EMAIL_VERIFICATION_URL.format(token=email_verification_token(user=user))


@transaction.atomic
def email_verify(*, token: str, user: User) -> User:
    """
    Marks the address of `user`, who is signed in, as verified; ValidationError for a bad, expired or
    used token, or one mailed for another account. The link alone is not enough: whoever registers a
    stranger's address would otherwise own the stranger's forms as soon as the stranger clicked the link
    they never asked for. The password of the account and the mailbox together are the proof.
    """
    try:
        payload = signing.loads(token, salt=SALT, max_age=settings.EMAIL_VERIFICATION_MAX_AGE)
        owner = User.objects.select_for_update().filter(pk=payload["u"], is_active=True).first()
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        owner = None
    user = owner if owner is not None and owner.pk == user.pk else None
    if user is None or not constant_time_compare(_state_hash(user), payload.get("h", "")):
        raise ValidationError({"token": [INVALID_TOKEN]}, code="invalid_token")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at", "updated_at"])
    audit_record(actor=user, action="user.email_verified", entity=user)
    return user


def email_verification_queue(*, user: User, kind: str = MAIL_VERIFY) -> None:
    """Sends the mail after commit, by a Celery task: a rolled-back sign-up mails nobody."""
    user_id = str(user.pk)
    transaction.on_commit(lambda: task_delay("accounts.tasks.email_verification_send", user_id, kind))


def email_verification_resend(*, user: User) -> None:
    """A new link for a signed-in user, a few per window (a mail per request costs us and annoys them)."""
    if user.email_verified_at is not None:
        return
    window = settings.EMAIL_VERIFICATION_RESEND_WINDOW
    hit = ratelimit.hit(
        f"verify-resend:{user.pk}", limit=settings.EMAIL_VERIFICATION_RESEND_MAX, window=window
    )
    if not hit.allowed:
        raise ResendThrottled(retry_after=hit.retry_after)
    email_verification_queue(user=user)


def email_verification_send(*, user: User, kind: str) -> None:
    """The mail itself (run by the task). A known address gets a hint to log in, and a link if unverified."""
    link = email_verification_link(user=user) if user.email_verified_at is None else ""
    context = {"user": user, "link": link, "max_age_days": settings.EMAIL_VERIFICATION_MAX_AGE // 86400}
    if kind == MAIL_ALREADY_REGISTERED:
        subject = "You already have an IndiVillage account"
        body = render_to_string("accounts/email/already_registered.txt", context)
    else:
        subject = "Confirm your e-mail address for IndiVillage"
        body = render_to_string("accounts/email/verify.txt", context)
    EmailMessage(subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email]).send()
