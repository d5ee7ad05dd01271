"""
Every existing user joins their role's group (Admins, Editors or Users): the role junction of the seed
documents is Django's user.groups, and membership follows the role (accounts.roles.role_apply). Set-based,
in a few statements whatever the number of users. The groups' permissions are synced after every
migrate (accounts.apps), once the permissions exist.
"""

from django.db import migrations

ROLE_GROUPS = {"admin": "Admins", "editor": "Editors", "user": "Users"}


def join_role_groups(apps, schema_editor):
    alias = schema_editor.connection.alias
    User = apps.get_model("accounts", "User")
    Group = apps.get_model("auth", "Group")
    Link = User.groups.through
    groups = {role: Group.objects.using(alias).get_or_create(name=name)[0] for role, name in ROLE_GROUPS.items()}
    for role, group in groups.items():
        others = [g.pk for r, g in groups.items() if r != role]
        Link.objects.using(alias).filter(user__role=role, group_id__in=others).delete()
        members = User.objects.using(alias).filter(role=role).exclude(groups=group).values_list("pk", flat=True)
        Link.objects.using(alias).bulk_create(
            (Link(user_id=pk, group_id=group.pk) for pk in members.iterator(chunk_size=2000)), batch_size=2000
        )


def leave_admins_and_users_groups(apps, schema_editor):
    # Before this migration only editors had a group: the other two memberships go.
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=["Admins", "Users"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_encrypted_field_of_the_project"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(join_role_groups, leave_admins_and_users_groups)]
