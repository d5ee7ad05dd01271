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
