"""Each role is a group with its permissions, and membership follows the role (the seed's role junction)."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from accounts.roles import ROLE_GROUPS, Role, role_apply
from accounts.services import users_bulk_create

from .factories import UserFactory


def _groups(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


@pytest.mark.django_db
def test_each_role_is_in_its_group_only_and_membership_follows_a_role_change():
    admin, editor, client = (UserFactory(role=role) for role in (Role.ADMIN, Role.EDITOR, Role.USER))
    assert (_groups(admin), _groups(editor), _groups(client)) == ({"Admins"}, {"Editors"}, {"Users"})

    reviewers = Group.objects.create(name="Reviewers")  # made by hand in the admin: left alone
    client.groups.add(reviewers)
    client.role = Role.EDITOR
    client.save()
    role_apply(user=client)
    assert _groups(client) == {"Editors", "Reviewers"}
    assert client.is_staff and not client.is_superuser


@pytest.mark.django_db
def test_the_groups_hold_their_roles_permissions():
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLE_GROUPS.values())}
    assert groups["Admins"].permissions.count() == Permission.objects.count()
    labels = set(groups["Editors"].permissions.values_list("content_type__app_label", flat=True))
    assert labels == {"content", "impact"}
    assert not groups["Users"].permissions.exists()


@pytest.mark.django_db
def test_seeded_users_are_in_the_users_group_in_the_same_few_statements():
    def seeded(count: int, start: int) -> int:
        specs = [{"email": f"seed{start + index}@example.com"} for index in range(count)]
        with CaptureQueriesContext(connection) as queries:
            users_bulk_create(users=specs, via="test")
        return len(queries)

    assert seeded(5, 0) == seeded(50, 100)  # not one more statement per user
    assert Group.objects.get(name="Users").user_set.count() == 55


@pytest.mark.django_db(transaction=True)
def test_users_from_before_the_groups_join_their_roles_group():
    before, after = [("accounts", "0006_encrypted_field_of_the_project")], [("accounts", "0007_role_groups")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser = old.get_model("accounts", "User")
    for role in ("admin", "editor", "user"):
        OldUser.objects.create(email=f"{role}@example.com", role=role, password="!")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("accounts", "User")
    found = {u.email: set(u.groups.values_list("name", flat=True)) for u in new.objects.all()}
    assert found == {
        "admin@example.com": {"Admins"},
        "editor@example.com": {"Editors"},
        "user@example.com": {"Users"},
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert User.objects.count() == 3
