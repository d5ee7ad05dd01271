import hashlib
import hmac

from django.conf import settings


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def email_blind_index(email: str) -> str:
    """
    A keyed HMAC of the normalised e-mail: rows whose e-mail is encrypted can still be found by it,
    while the column alone reveals nothing (no dictionary attack without BLIND_INDEX_KEY).
    """
    return blind_index(normalize_email(email))


def blind_index(text: str) -> str:
    """A keyed HMAC (hex, 64 characters) of `text`: equal texts match, the column alone reveals none."""
    return hmac.new(settings.BLIND_INDEX_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
