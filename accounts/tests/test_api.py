import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.crypto import hash_token
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Role, User
from audit.models import AuditLog
from common import ratelimit

from .factories import UserFactory
from .sessions import browser_session

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/me/"
PASSWORD = "correct-horse-battery"  # UserFactory's
NEW_PASSWORD = "plum-orchard-lantern-42"


def register_payload(**overrides):
    return {
        "email": "asha.rao@example.com",
        "password": NEW_PASSWORD,
        "name": "Asha Rao",
        "company": "Acme Analytics",
        "phone": "+91 98450 12345",
        "country": "IN",
        **overrides,
    }


def login(client, email, password, **extra):
    return client.post(LOGIN, {"email": email, "password": password}, format="json", **extra)


def token_client(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def assert_error(response, status, code, fields=()):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    for field in fields:
        assert field in error.get("fields", {}), error
    return error


@pytest.fixture
def clock(monkeypatch):
    """Moves the rate counters' clock (only theirs) forward, so a window can pass without waiting."""
    state = SimpleNamespace(offset=0.0)
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: time.time() + state.offset))
    return state


@pytest.fixture
def lockout(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_MAX_FAILURES_PER_IP = 20
    settings.LOGIN_FAILURE_WINDOW = 900
    return settings


# --- Register ---------------------------------------------------------------------------------------


def test_register_creates_a_plain_unverified_user_mails_a_link_and_issues_no_token(
    api_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(REGISTER, register_payload(email=" Asha.Rao@Example.com "), format="json")

    assert response.status_code == 202, response.content
    assert set(response.json()) == {"detail"} and "inbox" in response.json()["detail"]
    user = User.objects.get(email="asha.rao@example.com")
    assert user.role == Role.USER and not user.is_staff and not user.is_superuser
    assert user.email_verified_at is None
    assert user.check_password(NEW_PASSWORD)
    assert str(user.country) == "IN" and user.phone == "+91 98450 12345"
    assert not AuthToken.objects.exists()
    [message] = mail.outbox
    assert message.to == ["asha.rao@example.com"] and "verify-email?token=" in message.body

    # Logging in is the next step; the profile says the address is not verified yet.
    logged_in = login(api_client, "asha.rao@example.com", NEW_PASSWORD)
    assert logged_in.status_code == 200
    me = token_client(logged_in.json()["token"]).get(ME).json()
    assert me == {
        "id": str(user.pk),
        "email": "asha.rao@example.com",
        "name": "Asha Rao",
        "company": "Acme Analytics",
        "phone": "+91 98450 12345",
        "country": "IN",
        "role": "user",
        "email_verified": False,
        "preferences": {"notifications": True, "case_study_digest": False, "theme": "light"},
        "created_at": me["created_at"],
    }

    created = AuditLog.objects.get(action="user.created", entity_id=str(user.pk))
    assert created.changes == {"role": "user"}
    for row in AuditLog.objects.all():
        assert "asha" not in str(row.changes).lower() and "98450" not in str(row.changes)


@pytest.mark.parametrize("field", ["role", "is_staff", "is_superuser"])
def test_register_cannot_set_role_or_flags(api_client, field):
    value = "admin" if field == "role" else True
    response = api_client.post(REGISTER, register_payload(**{field: value}), format="json")

    assert_error(response, 400, "validation_error", fields=[field])
    assert not User.objects.filter(email="asha.rao@example.com").exists()


def test_register_with_a_known_address_in_any_case_answers_as_for_a_new_one_and_changes_nothing(
    api_client, django_capture_on_commit_callbacks
):
    known = UserFactory(email="asha.rao@example.com", name="Asha")
    before = User.objects.values().get(pk=known.pk)
    with django_capture_on_commit_callbacks(execute=True):
        new = api_client.post(REGISTER, register_payload(email="new.person@example.com"), format="json")
        again = api_client.post(
            REGISTER, register_payload(email="ASHA.Rao@example.COM", name="Mallory"), format="json"
        )

    assert (again.status_code, again.json()) == (new.status_code, new.json()) == (202, new.json())
    assert User.objects.filter(email__iexact="asha.rao@example.com").count() == 1
    assert User.objects.values().get(pk=known.pk) == before
    assert known.check_password(PASSWORD) and not AuthToken.objects.exists()
    [to_new, to_known] = mail.outbox
    assert to_known.to == ["asha.rao@example.com"]
    assert "already have an account" in to_known.body and "Log in" in to_known.body
    # Not yet verified: the mail to the known address carries a link as well.
    assert "verify-email?token=" in to_known.body
    assert "already have an account" not in to_new.body


@pytest.mark.parametrize(
    "password",
    [
        "short-1",  # under the minimum length
        "1234567890123",  # only digits
        "password1234",  # a common password
        "asha.rao@example.com",  # the address itself
    ],
)
def test_register_applies_the_password_validators(api_client, password):
    response = api_client.post(REGISTER, register_payload(password=password), format="json")

    error = assert_error(response, 400, "validation_error", fields=["password"])
    assert password not in str(error)
    assert not User.objects.exists()


def test_register_reports_every_wrong_field_at_once_and_the_same_for_a_known_address(api_client):
    response = api_client.post(
        REGISTER, register_payload(password="123", country="XX", phone="call me"), format="json"
    )
    # Shape errors first (country, phone); the password rules need valid input to run.
    error = assert_error(response, 400, "validation_error", fields=["country", "phone"])
    assert "password" not in error["fields"]

    unknown = api_client.post(REGISTER, register_payload(password="123"), format="json")
    UserFactory(email="asha.rao@example.com")
    known = api_client.post(REGISTER, register_payload(password="123"), format="json")
    # A weak password gets the same answer whether the address has an account or not.
    assert known.json() == unknown.json()
    assert set(assert_error(known, 400, "validation_error", fields=["password"])["fields"]) == {"password"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"name": ""}, "name"),
        ({"country": "India"}, "country"),
        ({"country": ["IN"]}, "country"),
        ({"phone": "x" * 40}, "phone"),
        ({"password": None}, "password"),
        ({"company": {"nested": 1}}, "company"),
    ],
)
def test_register_bad_input_is_a_400_naming_the_field(api_client, payload, field):
    response = api_client.post(REGISTER, register_payload(**payload), format="json")

    assert_error(response, 400, "validation_error", fields=[field])
    assert not User.objects.exists()


def test_register_missing_fields_and_lower_case_country(api_client):
    response = api_client.post(REGISTER, {}, format="json")
    error = assert_error(response, 400, "validation_error", fields=["email", "password", "name"])
    assert set(error["fields"]) == {"email", "password", "name"}

    response = api_client.post(
        REGISTER, {"email": "b@example.com", "password": NEW_PASSWORD, "name": "B", "country": "in"}
    )
    assert response.status_code == 202
    user = User.objects.get(email="b@example.com")
    assert str(user.country) == "IN" and user.phone == "" and user.company == ""


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        ("[1, 2]", "application/json", 400, "validation_error"),
        ('{"email": ', "application/json", 400, "bad_request"),
        ("email=a%40example.com", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_register_and_login_refuse_malformed_bodies_with_the_error_shape(
    api_client, body, content_type, status, code
):
    for url in (REGISTER, LOGIN):
        response = api_client.generic("POST", url, body, content_type=content_type)
        assert_error(response, status, code)
    assert not User.objects.exists()


# --- Login ------------------------------------------------------------------------------------------


def test_login_issues_a_token_records_last_login_and_audits(api_client):
    user = UserFactory(email="ravi@example.com")
    assert user.last_login is None

    response = login(api_client, "RAVI@Example.com", PASSWORD)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"token", "expiry", "user"}
    assert body["user"]["id"] == str(user.pk) and body["user"]["email"] == "ravi@example.com"
    row = AuthToken.objects.get(user=user)
    assert row.digest == hash_token(body["token"])
    assert parse_datetime(body["expiry"]) == row.expiry
    user.refresh_from_db()
    assert user.last_login is not None
    audit = AuditLog.objects.get(action="auth.login", entity_id=str(user.pk))
    assert audit.actor_id == user.pk and audit.changes == {"via": "login"}
    assert audit.ip_address == "127.0.0.1"
    assert token_client(body["token"]).get(ME).json()["email"] == "ravi@example.com"


def test_wrong_password_and_unknown_email_get_the_same_generic_answer(api_client):
    user = UserFactory(email="ravi@example.com")

    wrong_password = login(api_client, "ravi@example.com", "not-the-password")
    unknown_email = login(api_client, "nobody@example.com", "not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password["WWW-Authenticate"] == unknown_email["WWW-Authenticate"] == "Token"
    error = wrong_password.json()["error"]
    assert error["code"] == "not_authenticated" and "fields" not in error
    assert "e-mail address and password" in error["message"]
    assert not AuthToken.objects.exists()

    failures = AuditLog.objects.filter(action="auth.login_failed")
    assert failures.count() == 2
    known, unknown = failures.get(entity_id=str(user.pk)), failures.get(entity_id="")
    assert (known.entity_type, known.entity_id, known.actor_id) == ("accounts.user", str(user.pk), None)
    assert (unknown.entity_type, unknown.entity_id) == ("accounts.user", "")
    for row in (known, unknown):
        text = str(row.changes).lower()
        assert "ravi" not in text and "nobody" not in text and "not-the-password" not in text
        assert set(row.changes) == {"account_failures", "ip_failures"}


def test_inactive_user_cannot_log_in(api_client):
    user = UserFactory(email="gone@example.com")
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = login(api_client, "gone@example.com", PASSWORD)

    assert_error(response, 401, "not_authenticated")
    assert response.json() == login(api_client, "gone@example.com", "wrong-password").json()
    assert not AuthToken.objects.exists()


def test_account_lockout_holds_even_with_the_right_password_until_the_window_passes(
    api_client, lockout, clock
):
    user = UserFactory(email="ravi@example.com")
    for _ in range(5):
        assert login(api_client, "ravi@example.com", "wrong-password").status_code == 401

    locked = login(api_client, "ravi@example.com", PASSWORD)

    error = assert_error(locked, 429, "throttled")
    assert "Too many failed log-in attempts" in error["message"]
    retry_after = int(locked["Retry-After"])
    assert 0 < retry_after <= 901
    assert not AuthToken.objects.exists()
    # Later attempts are refused too, and the lockout is audited once, not per refused attempt.
    assert login(api_client, "ravi@example.com", "wrong-password").status_code == 429
    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 429
    locks = AuditLog.objects.filter(action="auth.locked")
    assert [(row.entity_id, row.changes) for row in locks] == [
        (str(user.pk), {"scope": "account", "window": 900})
    ]
    assert AuditLog.objects.filter(action="auth.login_failed").count() == 5

    clock.offset += 901
    response = login(api_client, "ravi@example.com", PASSWORD)
    assert response.status_code == 200
    assert AuthToken.objects.filter(user=user).count() == 1


def test_lockout_is_per_account_and_ignores_address_case(api_client, lockout):
    UserFactory(email="ravi@example.com")
    UserFactory(email="meena@example.com")
    for variant in (
        "ravi@example.com",
        "RAVI@example.com",
        "Ravi@Example.com",
        "ravi@EXAMPLE.com",
        "RaVi@example.com",
    ):
        assert login(api_client, variant, "wrong-password").status_code == 401

    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 429
    assert login(api_client, "meena@example.com", PASSWORD).status_code == 200


def test_unknown_address_locks_like_a_known_one(api_client, lockout):
    for _ in range(5):
        assert login(api_client, "ghost@example.com", "wrong-password").status_code == 401

    assert_error(login(api_client, "ghost@example.com", "wrong-password"), 429, "throttled")
    lock = AuditLog.objects.get(action="auth.locked")
    assert (lock.entity_type, lock.entity_id) == ("accounts.user", "")
    assert "ghost" not in str(lock.changes)


def test_successful_login_resets_the_account_counter(api_client, lockout):
    UserFactory(email="ravi@example.com")
    for _ in range(4):
        assert login(api_client, "ravi@example.com", "wrong-password").status_code == 401
    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 200
    for _ in range(4):
        assert login(api_client, "ravi@example.com", "wrong-password").status_code == 401

    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 200
    assert not AuditLog.objects.filter(action="auth.locked").exists()


def test_ip_lockout_is_not_bypassed_by_a_forged_forwarded_for(api_client, lockout, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    settings.TRUSTED_PROXIES = []
    UserFactory(email="ravi@example.com")
    for n in range(3):
        assert login(api_client, f"guess{n}@example.com", "wrong-password").status_code == 401

    # Another account, the right password, and a made-up client address: still the same socket peer.
    forged = login(api_client, "ravi@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert_error(forged, 429, "throttled")
    assert int(forged["Retry-After"]) > 0
    assert not AuthToken.objects.exists()
    lock = AuditLog.objects.get(action="auth.locked")
    assert lock.changes == {"scope": "ip", "window": 900}

    other_peer = login(api_client, "ravi@example.com", PASSWORD, REMOTE_ADDR="192.0.2.10")
    assert other_peer.status_code == 200


def test_ip_lockout_is_keyed_per_forwarded_client_behind_a_trusted_proxy(api_client, lockout, settings):
    settings.LOGIN_MAX_FAILURES_PER_IP = 3
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    UserFactory(email="ravi@example.com")
    via_proxy = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(3):
        response = login(
            api_client, f"guess{n}@example.com", "x-wrong", HTTP_X_FORWARDED_FOR="203.0.113.5", **via_proxy
        )
        assert response.status_code == 401

    blocked = login(api_client, "ravi@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.5", **via_proxy)
    assert blocked.status_code == 429
    # The client may prepend anything, but the proxy appends the real address, and that one counts.
    prepended = login(
        api_client,
        "ravi@example.com",
        PASSWORD,
        HTTP_X_FORWARDED_FOR="203.0.113.99, 203.0.113.5",
        **via_proxy,
    )
    assert prepended.status_code == 429
    # Another client behind the same proxy is not affected.
    other_client = login(
        api_client, "ravi@example.com", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6", **via_proxy
    )
    assert other_client.status_code == 200


def test_login_keeps_at_most_the_token_limit_dropping_the_oldest(api_client, settings):
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": 2}
    user = UserFactory(email="ravi@example.com")
    tokens = [login(api_client, "ravi@example.com", PASSWORD).json()["token"] for _ in range(3)]

    assert AuthToken.objects.filter(user=user).count() == 2
    assert token_client(tokens[0]).get(ME).status_code == 401
    assert token_client(tokens[1]).get(ME).status_code == 200
    assert token_client(tokens[2]).get(ME).status_code == 200


def test_login_bad_input_is_a_400_naming_the_field_and_does_not_count(api_client, lockout):
    UserFactory(email="ravi@example.com")
    for _ in range(6):
        response = api_client.post(LOGIN, {"email": "ravi@example.com"}, format="json")
        assert_error(response, 400, "validation_error", fields=["password"])
    response = api_client.post(LOGIN, {"email": "ravi", "password": "x"}, format="json")
    assert_error(response, 400, "validation_error", fields=["email"])

    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 200
    assert not AuditLog.objects.filter(action="auth.login_failed").exists()


def test_login_ignores_a_stale_token_header(api_client):
    UserFactory(email="ravi@example.com")
    api_client.credentials(HTTP_AUTHORIZATION="Token revoked-long-ago")

    assert login(api_client, "ravi@example.com", PASSWORD).status_code == 200


# --- Logout -----------------------------------------------------------------------------------------


def test_logout_revokes_only_the_token_used(api_client):
    user = UserFactory(email="ravi@example.com")
    first = login(api_client, "ravi@example.com", PASSWORD).json()["token"]
    second = login(api_client, "ravi@example.com", PASSWORD).json()["token"]

    response = token_client(first).post(LOGOUT)

    assert response.status_code == 204 and response.content == b""
    assert not AuthToken.objects.filter(digest=hash_token(first)).exists()
    assert AuthToken.objects.filter(digest=hash_token(second)).exists()
    assert_error(token_client(first).get(ME), 401, "not_authenticated")
    assert_error(token_client(first).post(LOGOUT), 401, "not_authenticated")
    assert token_client(second).get(ME).status_code == 200
    audit = AuditLog.objects.get(action="auth.logout")
    assert audit.actor_id == user.pk and audit.entity_id == str(user.pk)
    assert audit.changes == {"via": "token"}


def test_logout_with_a_session_ends_that_session_only(api_client):
    user = UserFactory(email="ravi@example.com")
    token = login(api_client, "ravi@example.com", PASSWORD).json()["token"]
    (browser, csrf), (other_browser, _) = browser_session(user.email), browser_session(user.email)
    assert browser.get(ME).json()["email"] == "ravi@example.com"

    refused = browser.post(LOGOUT)  # no CSRF token: a cross-site form cannot sign anyone out
    assert_error(refused, 403, "permission_denied")
    response = browser.post(LOGOUT, **csrf)

    assert response.status_code == 204
    assert_error(browser.get(ME), 401, "not_authenticated")
    assert other_browser.get(ME).status_code == 200
    assert token_client(token).get(ME).status_code == 200
    audit = AuditLog.objects.get(action="auth.logout")
    assert (audit.actor_id, audit.changes) == (user.pk, {"via": "session"})


def test_logout_needs_a_sign_in(api_client):
    response = api_client.post(LOGOUT)

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_expired_token_gets_401_and_is_removed(api_client):
    UserFactory(email="ravi@example.com")
    token = login(api_client, "ravi@example.com", PASSWORD).json()["token"]
    AuthToken.objects.filter(digest=hash_token(token)).update(expiry=timezone.now() - timedelta(seconds=1))

    assert_error(token_client(token).get(ME), 401, "not_authenticated")
    assert_error(token_client(token).post(LOGOUT), 401, "not_authenticated")
    assert not AuthToken.objects.filter(digest=hash_token(token)).exists()


def test_token_of_a_deactivated_user_stops_working(api_client):
    user = UserFactory(email="ravi@example.com")
    token = login(api_client, "ravi@example.com", PASSWORD).json()["token"]
    User.objects.filter(pk=user.pk).update(is_active=False)

    assert_error(token_client(token).get(ME), 401, "not_authenticated")


# --- Me ---------------------------------------------------------------------------------------------


@pytest.fixture
def member(api_client):
    user = UserFactory(
        email="priya@example.com", name="Priya N", company="Acme", phone="+91 80 1234 5678", country="IN"
    )
    token = login(api_client, "priya@example.com", PASSWORD).json()["token"]
    return SimpleNamespace(user=user, client=token_client(token))


def test_me_returns_the_own_profile_in_a_fixed_number_of_queries(member, django_assert_max_num_queries):
    UserFactory.create_batch(3)

    with django_assert_max_num_queries(2):
        response = member.client.get(ME)

    assert response.status_code == 200
    assert response.json() == {
        "id": str(member.user.pk),
        "email": "priya@example.com",
        "name": "Priya N",
        "company": "Acme",
        "phone": "+91 80 1234 5678",
        "country": "IN",
        "role": "user",
        "email_verified": False,
        "preferences": {"notifications": True, "case_study_digest": False, "theme": "light"},
        "created_at": member.user.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_me_needs_authentication(api_client):
    for response in (api_client.get(ME), api_client.patch(ME, {"name": "X"}, format="json")):
        assert_error(response, 401, "not_authenticated")


def test_me_shows_valid_preferences_only(member):
    User.objects.filter(pk=member.user.pk).update(preferences={"theme": "neon", "legacy": 1})

    assert member.client.get(ME).json()["preferences"] == {
        "notifications": True,
        "case_study_digest": False,
        "theme": "light",
    }


def test_me_patch_updates_the_profile_and_audits_field_names_only(member):
    response = member.client.patch(
        ME,
        {
            "name": "Priya Natarajan",
            "phone": "+91 99000 11111",
            "country": "gb",
            "company": "Acme",  # unchanged: not reported
            "preferences": {"theme": "dark"},
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "Priya Natarajan" and body["phone"] == "+91 99000 11111"
    assert body["country"] == "GB"
    assert body["preferences"] == {
        "notifications": True,
        "case_study_digest": False,
        "theme": "dark",
    }  # merged, not replaced
    user = User.objects.get(pk=member.user.pk)
    assert (user.name, user.phone, str(user.country)) == ("Priya Natarajan", "+91 99000 11111", "GB")
    assert user.preferences == {"notifications": True, "case_study_digest": False, "theme": "dark"}
    audit = AuditLog.objects.get(action="user.updated")
    assert audit.actor_id == user.pk and audit.entity_id == str(user.pk)
    assert audit.changes == {"fields": ["country", "name", "phone", "preferences"]}
    text = str(audit.changes)
    assert "Natarajan" not in text and "99000" not in text and "dark" not in text and "GB" not in text

    response = member.client.patch(ME, {"preferences": {"notifications": False}}, format="json")
    assert response.json()["preferences"] == {
        "notifications": False,
        "case_study_digest": False,
        "theme": "dark",
    }


def test_me_patch_with_nothing_changed_writes_nothing(member):
    before = User.objects.get(pk=member.user.pk).updated_at

    response = member.client.patch(ME, {"name": "Priya N", "preferences": {}}, format="json")

    assert response.status_code == 200 and response.json()["name"] == "Priya N"
    assert User.objects.get(pk=member.user.pk).updated_at == before
    assert not AuditLog.objects.filter(action="user.updated").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"email": "other@example.com"}, "email"),
        ({"is_staff": True}, "is_staff"),
        ({"is_superuser": True}, "is_superuser"),
        ({"id": "0190b4f0-0000-7000-8000-000000000000"}, "id"),
        ({"legal_hold": True}, "legal_hold"),
        ({"name": "Hacker", "role": "admin"}, "role"),
    ],
)
def test_me_patch_refuses_read_only_and_unknown_fields_and_changes_nothing(member, payload, field):
    response = member.client.patch(ME, payload, format="json")

    error = assert_error(response, 400, "validation_error", fields=[field])
    assert error["fields"][field] in (["This field is read-only."], ["Unknown field."])
    user = User.objects.get(pk=member.user.pk)
    assert (user.role, user.email, user.name, user.is_staff, user.legal_hold) == (
        "user",
        "priya@example.com",
        "Priya N",
        False,
        False,
    )
    assert not AuditLog.objects.filter(action="user.updated").exists()


@pytest.mark.parametrize(
    ("preferences", "field"),
    [
        ({"theme": "blue"}, "preferences.theme"),
        ({"notifications": "yes"}, "preferences.notifications"),
        ({"notifications": 1}, "preferences.notifications"),
        ({"language": "hi"}, "preferences.language"),
        ("dark", "preferences"),
        (["theme"], "preferences"),
        (None, "preferences"),
    ],
)
def test_me_patch_validates_preferences(member, preferences, field):
    response = member.client.patch(ME, {"preferences": preferences}, format="json")

    error = assert_error(response, 400, "validation_error", fields=[field])
    assert set(error["fields"]) == {field}
    assert User.objects.get(pk=member.user.pk).preferences == {
        "notifications": True,
        "case_study_digest": False,
        "theme": "light",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"country": "ZZ"}, "country"), ({"name": ""}, "name"), ({"phone": "phone me"}, "phone")],
)
def test_me_patch_bad_values_are_a_400_and_change_nothing(member, payload, field):
    response = member.client.patch(ME, payload, format="json")

    assert_error(response, 400, "validation_error", fields=[field])
    user = User.objects.get(pk=member.user.pk)
    assert (user.name, user.phone, str(user.country)) == ("Priya N", "+91 80 1234 5678", "IN")


def test_session_patch_needs_the_csrf_token(db):
    UserFactory(email="priya@example.com", name="Priya N")
    client = APIClient(enforce_csrf_checks=True)
    # The browsable API's own log-in page: a CSRF-protected form that starts a session.
    client.get("/api/auth/login/")
    response = client.post(
        "/api/auth/login/",
        {
            "username": "priya@example.com",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        format="multipart",
    )
    assert response.status_code == 302
    assert client.get(ME).json()["email"] == "priya@example.com"

    refused = client.patch(ME, {"name": "Changed"}, format="json")
    assert_error(refused, 403, "permission_denied")
    assert User.objects.get(email="priya@example.com").name == "Priya N"

    accepted = client.patch(
        ME, {"name": "Changed"}, format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )
    assert accepted.status_code == 200
    assert User.objects.get(email="priya@example.com").name == "Changed"
