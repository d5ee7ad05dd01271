from common.crypto import normalize_email

from .models import THEMES, User, default_preferences


def user_preferences(*, user: User) -> dict:
    """
    The preferences the site applies: every known key, stored values where they are valid, defaults
    for the rest. Rows written before the preferences were validated never leak odd keys or values.
    """
    stored = user.preferences if isinstance(user.preferences, dict) else {}
    preferences = default_preferences()
    if isinstance(stored.get("notifications"), bool):
        preferences["notifications"] = stored["notifications"]
    if stored.get("theme") in THEMES:
        preferences["theme"] = stored["theme"]
    return preferences


def user_by_email(*, email: str) -> User | None:
    """
    The user with this address in any spelling that normalises to it. An exact match on the
    normalised form, never `iexact`: PostgreSQL's UPPER() folds letters (ı to I) that the lockout key
    does not, and a lookup wider than the key is a way around the lockout.
    """
    return User.objects.filter(email=normalize_email(email)).first()
