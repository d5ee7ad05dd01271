"""
The three roles and what each implies: the flags and the role's group follow the role, which is the
only thing an admin sets. Each role is a group (`user.groups` is the role junction of the seed
documents): Admins with every permission, Editors with those of content and impact, Users with none (what
a client may do is their own data, through the API, never the admin). Below the models (they import Role
from here), so it imports none of them.
"""

from django.contrib.auth.models import Group, Permission
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    USER = "user", "User"


EDITORS_GROUP = "Editors"
ROLE_GROUPS = {Role.ADMIN: "Admins", Role.EDITOR: EDITORS_GROUP, Role.USER: "Users"}
# The apps whose models editors manage: content and impact only.
EDITOR_APPS = ("content", "impact")

# What a role implies. The role is the only thing an admin sets; the flags follow it.
ROLE_FLAGS = {
    Role.ADMIN: {"is_staff": True, "is_superuser": True},
    Role.EDITOR: {"is_staff": True, "is_superuser": False},
    Role.USER: {"is_staff": False, "is_superuser": False},
}


def role_groups_sync(*, using: str = "default") -> dict[str, Group]:
    """The three role groups, each with its role's permissions; returned by role."""
    groups = {
        role: Group.objects.using(using).get_or_create(name=name)[0] for role, name in ROLE_GROUPS.items()
    }
    permissions = Permission.objects.using(using)
    groups[Role.ADMIN].permissions.set(permissions.all())
    groups[Role.EDITOR].permissions.set(permissions.filter(content_type__app_label__in=EDITOR_APPS))
    groups[Role.USER].permissions.clear()
    return groups


def editors_group_sync(*, using: str = "default") -> Group:
    """The Editors group holds every permission of the content and impact apps, and nothing else."""
    return role_groups_sync(using=using)[Role.EDITOR]


def role_apply(*, user) -> None:
    """Brings is_staff, is_superuser and the role group membership in line with the user's role."""
    flags = ROLE_FLAGS[Role(user.role)]
    if any(getattr(user, name) != value for name, value in flags.items()):
        for name, value in flags.items():
            setattr(user, name, value)
        user.save(update_fields=[*flags, "updated_at"])
    groups = {role: Group.objects.get_or_create(name=name)[0] for role, name in ROLE_GROUPS.items()}
    # Only the role groups are touched: a group an admin made by hand stays as it is.
    user.groups.remove(*[group for role, group in groups.items() if role != user.role])
    user.groups.add(groups[Role(user.role)])
