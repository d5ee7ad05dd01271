import hashlib
import hmac
import unicodedata

from django.conf import settings

# Django's EmailValidator matches the local part with [A-Z] under re.IGNORECASE, which in Python also
# accepts four non-ASCII letters: ſ and K (NFKC makes them s and k) and ı and İ (no normal form or case
# fold makes them i, but PostgreSQL's UPPER() makes them I). Folding them here leaves no spelling the
# validator lets through that means another stored address to the database.
_DOTTED_I = str.maketrans({"\u0131": "i", "\u0130": "i"})


def normalize_email(email: str) -> str:
    """
    The one form of an e-mail address, for the stored address, every lookup (exact, not iexact), the
    log-in lockout key and the blind index: trimmed, NFKC, case-folded (Unicode's NFKC_Casefold, so
    "ſ", "K" and full-width letters are their ASCII twins and "ß" is "ss"), the two dotted-i
    look-alikes as "i". Idempotent: a stored address normalises to itself.
    """
    value = unicodedata.normalize("NFKC", email or "").strip().translate(_DOTTED_I)
    return unicodedata.normalize("NFKC", value.casefold())


def email_blind_index(email: str) -> str:
    """
    A keyed HMAC of the normalised e-mail: rows whose e-mail is encrypted can still be found by it,
    while the column alone reveals nothing (no dictionary attack without BLIND_INDEX_KEY).
    """
    return blind_index(normalize_email(email))


def blind_index(text: str) -> str:
    """A keyed HMAC (hex, 64 characters) of `text`: equal texts match, the column alone reveals none."""
    return hmac.new(settings.BLIND_INDEX_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()
