"""A password change ends every token and session of the user; "log out everywhere" does so on demand."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.services import user_admin_update, user_logout_all, user_password_set
from audit.models import AuditLog

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "plum-orchard-lantern-42"
ME = "/api/v1/me/"
LOGOUT_ALL = "/api/v1/auth/logout-all/"


def token_for(user) -> str:
    response = APIClient().post(
        "/api/v1/auth/login/", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()["token"]


def token_client(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def session_client(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(ME).status_code == 200
    return client


def change_password_in_admin(admin_client, user, password=NEW_PASSWORD):
    return admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": password, "password2": password, "usable_password": "true"},
    )


def test_admin_password_change_revokes_the_users_tokens_and_sessions(admin_client):
    user = UserFactory(email="asha@example.com")
    old_token = token_for(user)
    browser = session_client(user)
    bystander = UserFactory()
    bystander_token = token_for(bystander)

    response = change_password_in_admin(admin_client, user)

    assert response.status_code == 302, response.content
    assert token_client(old_token).get(ME).status_code == 401
    assert not AuthToken.objects.filter(user=user).exists()
    assert browser.get(ME).status_code in (401, 403)
    assert "_auth_user_id" not in browser.session
    # The admin who made the change and other users stay logged in.
    assert admin_client.get("/admin/").status_code == 200
    assert token_client(bystander_token).get(ME).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    audit = AuditLog.objects.get(action="auth.password_changed")
    assert audit.actor_id == admin_client.admin.pk and audit.entity_id == str(user.pk)
    assert audit.changes == {"via": "admin", "usable": True, "api_logins_revoked": 1}
    assert NEW_PASSWORD not in str(audit.changes)


def test_an_admin_changing_their_own_password_keeps_only_that_session(admin_client):
    admin = admin_client.admin
    own_token = token_for(admin)
    other_browser = session_client(admin)

    response = change_password_in_admin(admin_client, admin)

    assert response.status_code == 302
    assert admin_client.get("/admin/").status_code == 200
    assert other_browser.get("/admin/").status_code == 302  # back to the log-in page
    assert token_client(own_token).get(ME).status_code == 401


def test_disabling_password_log_in_in_the_admin_revokes_tokens_too(admin_client):
    user = UserFactory()
    token = token_for(user)

    response = admin_client.post(
        f"/admin/accounts/user/{user.pk}/password/", {"usable_password": "false", "unset-password": "1"}
    )

    assert response.status_code == 302, response.content
    assert token_client(token).get(ME).status_code == 401
    audit = AuditLog.objects.get(action="auth.password_changed")
    assert audit.changes == {"via": "admin", "usable": False, "api_logins_revoked": 1}


def test_password_set_service_revokes_tokens_and_sessions_for_a_reset():
    user = UserFactory()
    tokens = [token_for(user), token_for(user)]
    browser = session_client(user)

    user_password_set(user=user, password=NEW_PASSWORD, actor=None, via="reset")

    for token in tokens:
        assert token_client(token).get(ME).status_code == 401
    assert browser.get(ME).status_code in (401, 403)
    audit = AuditLog.objects.get(action="auth.password_changed")
    assert audit.actor_id is None and audit.changes == {
        "via": "reset",
        "usable": True,
        "api_logins_revoked": 2,
    }


def test_password_set_service_validates_the_password_and_changes_nothing_when_refused():
    user = UserFactory(email="asha@example.com")
    token = token_for(user)

    with pytest.raises(Exception, match="too short|too common|too similar"):
        user_password_set(user=user, password="asha", actor=user, via="api")

    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert token_client(token).get(ME).status_code == 200
    assert not AuditLog.objects.filter(action="auth.password_changed").exists()


# --- Log out everywhere -----------------------------------------------------------------------------


def test_logout_all_with_a_token_revokes_every_token_and_session():
    user = UserFactory(role=Role.EDITOR)
    first, second = token_for(user), token_for(user)
    browser = session_client(user)
    bystander_token = token_for(UserFactory())

    response = token_client(first).post(LOGOUT_ALL)

    assert response.status_code == 204 and response.content == b""
    assert token_client(first).get(ME).status_code == 401
    assert token_client(second).get(ME).status_code == 401
    assert browser.get(ME).status_code in (401, 403)
    assert browser.get("/admin/").status_code == 302
    assert token_client(bystander_token).get(ME).status_code == 200
    audit = AuditLog.objects.get(action="auth.logout_all")
    assert audit.actor_id == user.pk and audit.entity_id == str(user.pk)
    assert audit.changes == {"api_logins_revoked": 2}
    # A new log-in works as before.
    assert token_client(token_for(user)).get(ME).status_code == 200


def test_logout_all_with_a_session_revokes_it_and_the_tokens():
    user = UserFactory()
    token = token_for(user)
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    other_browser = session_client(user)
    browser.get(ME)
    csrf = browser.cookies["csrftoken"].value if "csrftoken" in browser.cookies else None

    refused = browser.post(LOGOUT_ALL)
    assert refused.status_code == 403  # a session needs the CSRF token, as every session write does
    assert token_client(token).get(ME).status_code == 200

    browser.get("/api/auth/login/")
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(LOGOUT_ALL, HTTP_X_CSRFTOKEN=csrf)

    assert response.status_code == 204, response.content
    assert browser.get(ME).status_code in (401, 403)
    assert other_browser.get(ME).status_code in (401, 403)
    assert token_client(token).get(ME).status_code == 401
    assert AuditLog.objects.filter(action="auth.logout_all", actor=user).count() == 1


def test_logout_all_needs_authentication(api_client):
    response = api_client.post(LOGOUT_ALL)
    assert response.status_code == 401
    assert not AuditLog.objects.filter(action="auth.logout_all").exists()


# --- manage.py changepassword -----------------------------------------------------------------------


def test_changepassword_command_goes_through_the_password_service(monkeypatch):
    user = UserFactory(email="asha@example.com")
    token = token_for(user)
    browser = session_client(user)
    monkeypatch.setattr("getpass.getpass", lambda prompt="Password: ": NEW_PASSWORD)
    out = StringIO()

    call_command("changepassword", " ASHA@Example.com", stdout=out)

    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert token_client(token).get(ME).status_code == 401
    assert browser.get(ME).status_code in (401, 403)
    audit = AuditLog.objects.get(action="auth.password_changed")
    assert audit.actor_id is None and audit.changes["via"] == "command"
    assert "Password changed successfully" in out.getvalue()


def test_changepassword_command_refuses_weak_passwords_and_unknown_users(monkeypatch):
    user = UserFactory(email="asha@example.com")
    monkeypatch.setattr("getpass.getpass", lambda prompt="Password: ": "asha")

    with pytest.raises(CommandError, match="after 3 attempts"):
        call_command("changepassword", "asha@example.com", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="No user"):
        call_command("changepassword", "nobody@example.com", stdout=StringIO())

    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not AuditLog.objects.filter(action="auth.password_changed").exists()


def test_saving_a_stale_admin_edit_form_does_not_undo_a_password_change(admin_client):
    user = UserFactory(email="asha@example.com")
    stale = User.objects.get(pk=user.pk)  # what the admin's edit form loaded
    user_password_set(user=user, password=NEW_PASSWORD, actor=None, via="reset")
    user_logout_all(user=user)

    stale.name = "Asha R."
    user_admin_update(user=stale, actor=admin_client.admin, changed=["name"])

    stored = User.objects.get(pk=user.pk)
    assert stored.name == "Asha R."
    assert stored.check_password(NEW_PASSWORD)
    assert stored.session_generation == 1
