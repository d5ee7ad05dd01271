"""
Every log-in path (the API's token log-in, the admin's form, the browsable API's form) shares one
lockout, per account and per client address, and one audit trail.
"""

import re

import pytest
from django.test import Client
from knox.models import AuthToken

from accounts.models import Role
from audit.models import AuditLog

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # UserFactory's
API_LOGIN = "/api/v1/auth/login/"
ADMIN_LOGIN = "/admin/login/"
BROWSABLE_LOGIN = "/api/auth/login/"
LOCK_MESSAGE = "Too many failed log-in attempts; try again in"


@pytest.fixture
def lockout(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_MAX_FAILURES_PER_IP = 20
    settings.LOGIN_FAILURE_WINDOW = 900
    return settings


def api_login(client, email, password):
    return client.post(API_LOGIN, {"email": email, "password": password}, content_type="application/json")


def form_login(client, url, email, password):
    return client.post(url, {"username": email, "password": password, "next": "/admin/"})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_admin_login_refuses_the_right_password_after_25_wrong_ones(lockout):
    staff = UserFactory(email="ed@example.com", role=Role.EDITOR)
    client = Client()
    for _ in range(25):
        response = form_login(client, ADMIN_LOGIN, "ed@example.com", "wrong-password")
        assert response.status_code == 200 and not logged_in(client)

    response = form_login(client, ADMIN_LOGIN, "ed@example.com", PASSWORD)

    assert response.status_code == 200
    assert not logged_in(client)
    assert LOCK_MESSAGE in response.content.decode()
    minutes = int(re.search(r"try again in (\d+) minutes?", response.content.decode()).group(1))
    assert 1 <= minutes <= 16  # the rest of the fixed 15-minute window
    # Only the attempts the lockout let through were checked and audited; the lock itself once per scope.
    failures = AuditLog.objects.filter(action="auth.login_failed", entity_id=str(staff.pk))
    assert failures.count() == 5
    assert sorted(row.changes["scope"] for row in AuditLog.objects.filter(action="auth.locked")) == [
        "account"
    ]
    assert not AuditLog.objects.filter(action="auth.login").exists()


@pytest.mark.parametrize("url", [ADMIN_LOGIN, BROWSABLE_LOGIN])
def test_a_lock_set_on_the_api_refuses_the_session_log_ins(lockout, url):
    UserFactory(email="ed@example.com", role=Role.EDITOR)
    api = Client()
    for _ in range(5):
        assert api_login(api, "ed@example.com", "wrong-password").status_code == 401
    assert api_login(api, "ed@example.com", PASSWORD).status_code == 429

    client = Client()
    response = form_login(client, url, "ed@example.com", PASSWORD)

    assert response.status_code == 200, response.content
    assert LOCK_MESSAGE in response.content.decode()
    assert not logged_in(client)


@pytest.mark.parametrize("url", [ADMIN_LOGIN, BROWSABLE_LOGIN])
def test_a_lock_set_on_a_session_log_in_refuses_the_api_and_the_other_form(lockout, url):
    UserFactory(email="ed@example.com", role=Role.EDITOR)
    client = Client()
    for _ in range(5):
        form_login(client, url, "ED@example.com", "wrong-password")

    assert api_login(Client(), "ed@example.com", PASSWORD).status_code == 429
    other = BROWSABLE_LOGIN if url == ADMIN_LOGIN else ADMIN_LOGIN
    response = form_login(Client(), other, "ed@example.com", PASSWORD)
    assert LOCK_MESSAGE in response.content.decode()
    assert not AuthToken.objects.exists()


def test_the_address_lockout_covers_the_session_log_ins(lockout):
    client = Client()
    for n in range(20):
        form_login(client, ADMIN_LOGIN, f"nobody{n}@example.com", "wrong-password")
    UserFactory(email="ed@example.com", role=Role.EDITOR)

    response = form_login(client, BROWSABLE_LOGIN, "ed@example.com", PASSWORD)

    assert LOCK_MESSAGE in response.content.decode()
    assert api_login(client, "ed@example.com", PASSWORD).status_code == 429
    lock = AuditLog.objects.get(action="auth.locked")
    assert lock.changes == {"scope": "ip", "window": 900}


@pytest.mark.parametrize(("url", "via"), [(ADMIN_LOGIN, "admin"), (BROWSABLE_LOGIN, "browsable-api")])
def test_session_log_ins_are_audited_with_their_path_and_counted_once(lockout, url, via):
    user = UserFactory(email="ed@example.com", role=Role.EDITOR)
    client = Client()

    form_login(client, url, "ed@example.com", "wrong-password")
    response = form_login(client, url, " ED@example.com", PASSWORD)

    assert response.status_code == 302 and logged_in(client)
    failed = AuditLog.objects.get(action="auth.login_failed")
    # One wrong password is one failure: the form and the backend do not both count it.
    assert failed.entity_id == str(user.pk) and failed.changes == {"account_failures": 1, "ip_failures": 1}
    login = AuditLog.objects.get(action="auth.login")
    assert login.actor_id == user.pk and login.changes == {"via": via}
    assert login.ip_address == "127.0.0.1"
    user.refresh_from_db()
    assert user.last_login is not None


def test_admin_form_still_refuses_a_non_staff_account_and_audits_no_log_in(lockout):
    UserFactory(email="client@example.com", role=Role.USER)
    client = Client()

    response = form_login(client, ADMIN_LOGIN, "client@example.com", PASSWORD)

    assert response.status_code == 200 and not logged_in(client)
    assert "staff account" in response.content.decode()
    assert not AuditLog.objects.filter(action="auth.login").exists()


def test_browsable_api_log_in_gives_a_working_session(lockout):
    UserFactory(email="asha@example.com", role=Role.USER)
    client = Client()

    response = client.post(BROWSABLE_LOGIN, {"username": "asha@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/api/v1/me/", HTTP_ACCEPT="application/json").json()["email"] == "asha@example.com"
