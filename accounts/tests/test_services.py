import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import Role, User
from accounts.services import EDITORS_GROUP, user_role_change
from audit.models import AuditLog

from .factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "is_staff", "is_superuser", "in_editors"),
    [(Role.ADMIN, True, True, False), (Role.EDITOR, True, False, True), (Role.USER, False, False, False)],
)
def test_role_drives_flags_and_editors_membership(role, is_staff, is_superuser, in_editors):
    user = User.objects.get(pk=UserFactory(role=role).pk)
    assert (user.is_staff, user.is_superuser) == (is_staff, is_superuser)
    assert user.groups.filter(name=EDITORS_GROUP).exists() is in_editors


def test_role_change_moves_flags_and_group_and_is_audited():
    admin = UserFactory(role=Role.ADMIN)
    user = UserFactory(role=Role.USER)
    user_role_change(user=user, role=Role.EDITOR, actor=admin)
    user.refresh_from_db()
    assert user.is_staff and not user.is_superuser
    assert user.groups.filter(name=EDITORS_GROUP).exists()
    row = AuditLog.objects.get(action="user.role_changed", entity_id=str(user.pk))
    assert row.actor_id == admin.pk
    assert row.changes == {"role": ["user", "editor"]}

    user_role_change(user=user, role=Role.USER, actor=admin)
    user.refresh_from_db()
    assert not user.is_staff and not user.groups.exists()


def test_unchanged_role_writes_no_audit_row():
    user = UserFactory(role=Role.EDITOR)
    user_role_change(user=user, role=Role.EDITOR)
    assert not AuditLog.objects.filter(action="user.role_changed").exists()


def test_editor_permissions_cover_content_and_impact_only():
    apps = set(
        Group.objects.get(name=EDITORS_GROUP).permissions.values_list("content_type__app_label", flat=True)
    )
    assert apps == {"content", "impact"}
    expected = Permission.objects.filter(content_type__app_label__in=["content", "impact"]).count()
    assert Group.objects.get(name=EDITORS_GROUP).permissions.count() == expected


def test_editor_has_content_permission_but_not_user_or_submission_permission():
    editor = User.objects.get(pk=UserFactory(role=Role.EDITOR).pk)
    assert editor.has_perm("content.change_service")
    assert editor.has_perm("impact.add_impactstory")
    assert not editor.has_perm("accounts.change_user")
    assert not editor.has_perm("submissions.view_formsubmission")
    assert not editor.has_perm("audit.view_auditlog")


def test_user_creation_is_audited_without_pii():
    user = UserFactory(email="private.person@example.com", phone="+91 11111 22222", role=Role.EDITOR)
    row = AuditLog.objects.get(action="user.created", entity_id=str(user.pk))
    assert row.entity_type == "accounts.user"
    assert row.changes == {"role": "editor"}
    assert "private.person" not in str(row.changes) and "11111" not in str(row.changes)


def test_invalid_role_change_leaves_user_untouched():
    user = UserFactory(role=Role.USER)
    with pytest.raises(Exception):  # noqa: B017 - ValidationError, checked below by state
        user_role_change(user=user, role="root")
    user.refresh_from_db()
    assert user.role == Role.USER and not user.is_staff
