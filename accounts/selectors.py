from django.db import connection
from django.db.models import Q

from common.crypto import normalize_email

from .models import PREFERENCE_FLAGS, THEMES, User, default_preferences


def user_preferences(*, user: User) -> dict:
    """
    The preferences the site applies: every known key, stored values where they are valid, defaults
    for the rest. Rows written before the preferences were validated never leak odd keys or values.
    """
    stored = user.preferences if isinstance(user.preferences, dict) else {}
    preferences = default_preferences()
    for flag in PREFERENCE_FLAGS:
        if isinstance(stored.get(flag), bool):
            preferences[flag] = stored[flag]
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


def users_with_preference(flag: str, enabled: bool = True, *, users=None):
    """
    Users whose on/off preference `flag` is `enabled`, stored or (rows without the key) by default;
    of `users`, or of the active ones. On PostgreSQL a containment (`preferences @> '{"flag": true}'`),
    which the GIN jsonb_path_ops index (accounts migration 0008) answers; SQLite cannot do containment
    and compares the key.
    """
    if flag not in PREFERENCE_FLAGS:
        raise ValueError(f"not an on/off preference: {flag}")
    users = User.objects.filter(is_active=True) if users is None else users
    stored = (
        Q(preferences__contains={flag: enabled})
        if connection.vendor == "postgresql"
        else Q(**{f"preferences__{flag}": enabled})
    )
    if enabled == default_preferences()[flag]:
        stored |= ~Q(preferences__has_key=flag)
    return users.filter(stored)
