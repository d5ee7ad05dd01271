import pytest
from django.urls import reverse
from knox.models import AuthToken

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def _change(client, user, **overrides):
    data = {
        "email": user.email,
        "name": user.name,
        "company": user.company,
        "phone": user.phone,
        "country": "",
        "preferences": '{"notifications": true, "theme": "light"}',
        "role": user.role,
        "is_active": "on" if user.is_active else "",
        **overrides,
    }
    data = {k: v for k, v in data.items() if v != ""}
    return client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)


def test_role_change_in_the_admin_moves_access_and_is_audited(admin_client):
    user = UserFactory(role=Role.USER)
    response = _change(admin_client, user, role="editor")
    assert response.status_code == 302, response.content.decode()[:3000]
    user.refresh_from_db()
    assert user.role == "editor" and user.is_staff and user.groups.filter(name="Editors").exists()
    row = AuditLog.objects.get(action="user.role_changed", entity_id=str(user.pk))
    assert row.actor_id == admin_client.admin.pk and row.changes == {"role": ["user", "editor"]}


def test_deactivating_in_the_admin_is_audited_and_revokes_tokens(admin_client):
    user = UserFactory()
    AuthToken.objects.create(user)
    response = _change(admin_client, user, is_active="")
    assert response.status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    assert not AuthToken.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(action="user.deactivated", entity_id=str(user.pk)).count() == 1


def test_adding_a_user_goes_through_the_service(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New.Editor@Example.com",
            "name": "New Editor",
            "role": "editor",
            "usable_password": "true",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(email="new.editor@example.com")
    assert user.is_staff and user.check_password("a-long-unusual-passphrase")
    assert (
        AuditLog.objects.get(action="user.created", entity_id=str(user.pk)).actor_id == admin_client.admin.pk
    )


def test_an_unknown_role_is_refused_in_plain_words(admin_client):
    user = UserFactory()
    response = _change(admin_client, user, role="overlord")
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    user.refresh_from_db()
    assert user.role == "user"


def test_audit_log_is_read_only_even_for_admins(admin_client):
    row = AuditLog.objects.first()
    assert admin_client.get(reverse("admin:audit_auditlog_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:audit_auditlog_add")).status_code == 403
    admin_client.post(reverse("admin:audit_auditlog_delete", args=[row.pk]), {"post": "yes"})
    assert AuditLog.objects.filter(pk=row.pk).exists()
