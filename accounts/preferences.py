"""
Turning an on/off preference off from a link in a mail, without logging in: the link carries a signed
token naming the user and the preference (RFC 8058 one-click unsubscribe for the digest, content.digest).
The token does not expire: a link in an old mail must still stop the mails.
"""

from django.core import signing
from django.core.exceptions import ValidationError

from .models import PREFERENCE_FLAGS, User
from .selectors import user_preferences
from .services import user_update

SALT = "accounts.preferences.unsubscribe"


def unsubscribe_token(*, user: User, flag: str) -> str:
    if flag not in PREFERENCE_FLAGS:
        raise ValueError(f"not an on/off preference: {flag}")
    return signing.dumps({"u": str(user.pk), "f": flag}, salt=SALT, compress=True)


def unsubscribe(*, token: str) -> tuple[User, str]:
    """
    Turns off the preference the token names, for its user (audited as the user's own change); the user
    and the preference. The same token again changes nothing and answers the same. ValidationError for a
    token that is not one of ours, or whose account is gone.
    """
    try:
        payload = signing.loads(token, salt=SALT)
        user = User.objects.filter(pk=payload["u"], is_active=True).first()
        flag = payload["f"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, ValidationError):
        user = flag = None
    if user is None or flag not in PREFERENCE_FLAGS:
        raise ValidationError({"token": "This unsubscribe link is not valid."}, code="invalid")
    if user_preferences(user=user)[flag]:
        user_update(user=user, actor=user, preferences={flag: False})
    return user, flag
