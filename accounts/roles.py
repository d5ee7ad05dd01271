"""
The three roles and what each implies: the flags and the Editors group follow the role, which is the
only thing an admin sets. Below the models (they import Role from here), so it imports none of them.
"""

from django.contrib.auth.models import Group, Permission
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    USER = "user", "User"


EDITORS_GROUP = "Editors"
# The apps whose models editors manage: content and impact only.
EDITOR_APPS = ("content", "impact")

# What a role implies. The role is the only thing an admin sets; the flags follow it.
ROLE_FLAGS = {
    Role.ADMIN: {"is_staff": True, "is_superuser": True},
    Role.EDITOR: {"is_staff": True, "is_superuser": False},
    Role.USER: {"is_staff": False, "is_superuser": False},
}


def editors_group_sync(*, using: str = "default") -> Group:
    """The Editors group holds every permission of the content and impact apps, and nothing else."""
    group, _ = Group.objects.using(using).get_or_create(name=EDITORS_GROUP)
    permissions = Permission.objects.using(using).filter(content_type__app_label__in=EDITOR_APPS)
    group.permissions.set(permissions)
    return group


def role_apply(*, user) -> None:
    """Brings is_staff, is_superuser and Editors membership in line with the user's role."""
    flags = ROLE_FLAGS[Role(user.role)]
    if any(getattr(user, name) != value for name, value in flags.items()):
        for name, value in flags.items():
            setattr(user, name, value)
        user.save(update_fields=[*flags, "updated_at"])
    group = editors_group_sync()
    if user.role == Role.EDITOR:
        user.groups.add(group)
    else:
        user.groups.remove(group)
