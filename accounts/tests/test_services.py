import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.exceptions import ValidationError

from accounts import services
from accounts.models import Role, User
from accounts.roles import EDITORS_GROUP
from accounts.services import user_role_change, user_update
from audit.models import AuditLog
from common import ratelimit

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
    assert not user.is_staff and list(user.groups.values_list("name", flat=True)) == ["Users"]


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


# --- Registration, log-in and profile services ------------------------------------------------------


def test_user_update_refuses_fields_outside_the_profile():
    user = UserFactory(role=Role.USER)
    with pytest.raises(TypeError):
        user_update(user=user, actor=user, role=Role.ADMIN)
    user.refresh_from_db()
    assert user.role == Role.USER


def test_user_update_failure_leaves_the_object_and_row_untouched():
    user = UserFactory(name="Asha", country="IN")
    with pytest.raises(ValidationError) as error:
        user_update(user=user, actor=user, name="Asha R", country="ZZ")
    assert "country" in error.value.message_dict
    assert (user.name, str(user.country)) == ("Asha", "IN")
    assert User.objects.get(pk=user.pk).name == "Asha"
    assert not AuditLog.objects.filter(action="user.updated").exists()


def test_user_update_model_validation_refuses_bad_preferences():
    user = UserFactory()
    with pytest.raises(ValidationError) as error:
        user_update(user=user, actor=user, preferences={"theme": "neon"})
    assert "preferences" in error.value.message_dict
    assert User.objects.get(pk=user.pk).preferences == {
        "notifications": True,
        "case_study_digest": False,
        "theme": "light",
    }


def test_register_turns_a_lost_race_on_the_address_into_the_known_address_answer(
    monkeypatch, django_capture_on_commit_callbacks
):
    known = UserFactory(email="asha@example.com")
    # As if another sign-up committed between the check and the insert: only the constraint sees it.
    real_user_by_email = services.user_by_email
    calls = []

    def user_by_email(*, email):
        calls.append(email)
        return real_user_by_email(email=email) if len(calls) > 1 else None

    monkeypatch.setattr(services, "user_by_email", user_by_email)
    monkeypatch.setattr(User, "validate_unique", lambda self, exclude=None: None)
    monkeypatch.setattr(User, "validate_constraints", lambda self, exclude=None: None)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.user_register(
            email="ASHA@example.com", password="plum-orchard-lantern-42", name="A", ip="198.51.100.7"
        )

    assert result is None  # the same outcome as any sign-up: no error that would name the address
    assert len(calls) == 2  # the pre-check passed; the answer came after the refused insert
    assert list(User.objects.filter(email__iexact="asha@example.com")) == [known]
    [message] = mail.outbox
    assert message.to == ["asha@example.com"] and "already have an account" in message.body


def test_login_attempts_take_their_place_before_the_password_is_checked(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    UserFactory(email="ravi@example.com")
    # Three attempts still in flight: a fourth, even with the right password, is not checked at all.
    key, _ = services._login_keys(email="ravi@example.com", ip="127.0.0.1")
    for _ in range(3):
        ratelimit.hit(key, limit=3, window=settings.LOGIN_FAILURE_WINDOW)

    with pytest.raises(services.LoginLocked) as locked:
        services.user_login(email="ravi@example.com", password="correct-horse-battery", ip="127.0.0.1")

    assert locked.value.scope == "account" and locked.value.retry_after > 0
    assert not AuditLog.objects.filter(action__startswith="auth.").exists()
