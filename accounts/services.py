from django.contrib.auth.models import Group, Permission
from django.db import transaction

from audit.services import audit_record
from common.crypto import normalize_email

from .models import Role, User

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


def user_role_apply(*, user: User) -> None:
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
    user = User(
        email=normalize_email(email),
        name=name,
        role=role,
        company=company,
        phone=phone,
        country=country,
        **extra,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    user_role_apply(user=user)
    # The audit keeps ids and the role only: never the address or other PII.
    audit_record(actor=actor, action="user.created", entity=user, changes={"role": user.role})
    return user


@transaction.atomic
def user_role_change(*, user: User, role: str, actor: User | None = None) -> User:
    previous = user.role
    user.role = role
    user.full_clean()
    if previous == role:
        return user
    user.save(update_fields=["role", "updated_at"])
    user_role_apply(user=user)
    audit_record(
        actor=actor, action="user.role_changed", entity=user, changes={"role": [previous, user.role]}
    )
    return user
