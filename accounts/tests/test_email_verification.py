"""
Issue 13, items 1 and 7: an account owns the forms sent without an account only once it has proved it
controls the address (a signed, expiring, single-use link); registration says nothing about which
addresses have accounts and is throttled.
"""

import re
import time

import pytest
from django.core import mail, signing
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import verification
from accounts.models import User
from accounts.tests.factories import UserFactory
from accounts.verification import email_verification_token
from audit.models import AuditLog
from submissions.models import FormSubmission

pytestmark = pytest.mark.django_db

VICTIM = "victim@corp.example"
SECRET = "Our Q3 acquisition target is Globex."
PASSWORD = "plum-orchard-lantern-42"
REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
VERIFY = "/api/v1/auth/verify-email/"
RESEND = "/api/v1/auth/verify-email/resend/"
EXPORT = "/api/v1/me/export/"
ME = "/api/v1/me/"


def _visitor_quote_request(client):
    from content.tests.factories import ServiceFactory

    ServiceFactory(slug="data-annotation", name="Data annotation")
    payload = {
        "name": "Vic Tim",
        "email": VICTIM,
        "company": "Corp",
        "services": ["data-annotation"],
        "budget_range": "25k-100k",
        "timeline": "1-3 months",
        "data_volume": "30,000 images",
        "message": SECRET,
    }
    response = client.post("/api/v1/submissions/quote-request/", payload, format="json")
    assert response.status_code in (201, 202), response.content
    return FormSubmission.objects.get()


def _register_and_log_in(capture, email=VICTIM):
    client = APIClient()
    with capture(execute=True):
        registered = client.post(
            REGISTER, {"email": email, "password": PASSWORD, "name": "Mallory"}, format="json"
        )
    assert registered.status_code == 202, registered.content
    response = client.post(LOGIN, {"email": email, "password": PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    return client


def _verify(user, token):
    """POST the token as the site does: signed in as `user`."""
    client = APIClient()
    client.force_authenticate(user)
    return client.post(VERIFY, {"token": token}, format="json")


def _token_from_mail(message) -> str:
    return re.search(r"token=([\w:.-]+)", message.body).group(1)


def test_registering_a_visitors_address_neither_exports_nor_erases_their_forms_until_verified(
    django_capture_on_commit_callbacks,
):
    submission = _visitor_quote_request(APIClient())
    client = _register_and_log_in(django_capture_on_commit_callbacks)

    exported = client.get(EXPORT).json()
    assert SECRET not in str(exported)
    assert exported["submissions"] == []

    user = User.objects.get(email=VICTIM)
    erased = client.delete(ME, {"password": PASSWORD}, format="json")
    assert erased.status_code == 204
    assert not User.objects.filter(pk=user.pk).exists()
    assert FormSubmission.objects.filter(pk=submission.pk).exists()


def test_after_verification_export_and_erasure_include_the_visitors_forms(
    django_capture_on_commit_callbacks,
):
    submission = _visitor_quote_request(APIClient())
    mail.outbox.clear()
    client = _register_and_log_in(django_capture_on_commit_callbacks)
    token = _token_from_mail(mail.outbox[-1])

    verified = client.post(VERIFY, {"token": token}, format="json")
    assert verified.status_code == 200, verified.content
    assert verified.json()["email_verified"] is True

    exported = client.get(EXPORT).json()
    assert [row["data"]["message"] for row in exported["submissions"]] == [SECRET]
    assert client.delete(ME, {"password": PASSWORD}, format="json").status_code == 204
    assert not FormSubmission.objects.filter(pk=submission.pk).exists()


# --- The link: signed, expiring, single-use, bound to the address -------------------------------------


def test_verify_marks_the_address_audits_it_and_the_token_is_single_use():
    user = UserFactory(email="asha@example.com")
    token = email_verification_token(user=user)

    response = _verify(user, token)

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(user.pk) and response.json()["email_verified"] is True
    user.refresh_from_db()
    assert user.email_verified_at is not None
    event = AuditLog.objects.get(action="user.email_verified")
    assert event.entity_id == str(user.pk) and event.actor_id == user.pk
    assert "asha" not in str(event.changes)

    again = _verify(user, token)
    _assert_invalid_token(again)
    assert User.objects.get(pk=user.pk).email_verified_at == user.email_verified_at


def _assert_invalid_token(response):
    assert response.status_code == 400, response.content
    assert "token" in response.json()["error"]["fields"]


def test_an_expired_token_is_refused(settings, monkeypatch):
    settings.EMAIL_VERIFICATION_MAX_AGE = 60
    user = UserFactory()
    # Signed 61 seconds ago (the signature's timestamp is what expires).
    now = time.time()
    with monkeypatch.context() as patched:
        patched.setattr(signing.time, "time", lambda: now - 61)
        token = email_verification_token(user=user)
    fresh = email_verification_token(user=user)

    _assert_invalid_token(_verify(user, token))
    assert User.objects.get(pk=user.pk).email_verified_at is None
    assert _verify(user, fresh).status_code == 200


def test_a_token_dies_when_the_address_changes():
    user = UserFactory(email="old@example.com")
    token = email_verification_token(user=user)
    User.objects.filter(pk=user.pk).update(email="new@example.com")

    _assert_invalid_token(_verify(User.objects.get(pk=user.pk), token))
    assert User.objects.get(pk=user.pk).email_verified_at is None


@pytest.mark.parametrize("token", ["", "nonsense", "eyJ1IjoiMSJ9:1xZZaO:forged", "a" * 600, None, 42])
def test_a_wrong_token_is_a_400_not_a_500(token):
    response = _verify(UserFactory(), token)
    assert response.status_code == 400, response.content
    assert not User.objects.filter(email_verified_at__isnull=False).exists()


def test_a_token_signed_for_another_user_state_is_refused():
    user = UserFactory()
    forged = signing.dumps({"u": str(user.pk), "h": "0" * 64}, salt=verification.SALT)
    _assert_invalid_token(_verify(user, forged))


def test_the_link_alone_verifies_nothing_without_the_accounts_sign_in(django_capture_on_commit_callbacks):
    # Mallory registers the victim's address; the victim, who never signed up, clicks the link mailed to
    # them. Neither anonymously nor signed in to an account of their own does that verify Mallory's.
    submission = _visitor_quote_request(APIClient())
    mail.outbox.clear()
    mallory = _register_and_log_in(django_capture_on_commit_callbacks)
    token = _token_from_mail(mail.outbox[-1])

    anonymous = APIClient().post(VERIFY, {"token": token}, format="json")
    assert anonymous.status_code == 401, anonymous.content
    _assert_invalid_token(_verify(UserFactory(email="victim-own@corp.example"), token))

    assert User.objects.get(email=VICTIM).email_verified_at is None
    exported = mallory.get(EXPORT).json()
    assert exported["submissions"] == [] and SECRET not in str(exported)
    assert FormSubmission.objects.filter(pk=submission.pk).exists()


def test_an_admins_address_change_clears_the_proof():
    from accounts.services import user_admin_update

    user = UserFactory(email="old@example.com", email_verified_at=timezone.now())
    admin = UserFactory(role="admin")
    user.email = "new@example.com"
    user_admin_update(user=user, actor=admin, changed=["email"])
    assert User.objects.get(pk=user.pk).email_verified_at is None


def test_resend_mails_a_new_link_a_few_times_then_429(settings, django_capture_on_commit_callbacks):
    settings.EMAIL_VERIFICATION_RESEND_MAX = 2
    user = UserFactory(email="asha@example.com")
    client = APIClient()
    client.force_authenticate(user)

    with django_capture_on_commit_callbacks(execute=True):
        answers = [client.post(RESEND).status_code for _ in range(3)]

    assert answers == [202, 202, 429]
    assert [m.to for m in mail.outbox] == [["asha@example.com"]] * 2
    token = _token_from_mail(mail.outbox[-1])
    assert _verify(user, token).status_code == 200


def test_resend_for_a_verified_address_sends_nothing(django_capture_on_commit_callbacks):
    client = APIClient()
    client.force_authenticate(UserFactory(email_verified_at=timezone.now()))
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(RESEND).status_code == 202
    assert mail.outbox == []


# --- Registration says nothing about who has an account, and is throttled ----------------------------


def test_registration_with_a_known_address_and_a_weak_password_says_nothing_about_the_account():
    UserFactory(email=VICTIM)
    known = APIClient().post(REGISTER, {"email": VICTIM, "password": "123", "name": "M"}, format="json")
    unknown = APIClient().post(
        REGISTER, {"email": "nobody@corp.example", "password": "123", "name": "M"}, format="json"
    )
    assert known.status_code == unknown.status_code == 400
    assert known.json() == unknown.json()
    assert "already exists" not in known.content.decode()


def test_registration_is_throttled_per_client_address(settings):
    settings.REGISTER_MAX_PER_IP = 20
    client = APIClient()
    answers = [
        client.post(
            REGISTER, {"email": f"bot{n}@corp.example", "password": "123", "name": "B"}, format="json"
        )
        for n in range(60)
    ]
    codes = [answer.status_code for answer in answers]
    assert codes[:20] == [400] * 20 and set(codes[20:]) == {429}
    assert int(answers[-1]["Retry-After"]) > 0
    # Another client address is not affected.
    other = client.post(
        REGISTER,
        {"email": "bot99@corp.example", "password": "123", "name": "B"},
        format="json",
        REMOTE_ADDR="198.51.100.9",
    )
    assert other.status_code == 400


def test_registration_is_throttled_per_address_whatever_the_client_address(settings):
    settings.REGISTER_MAX_PER_ADDRESS = 3
    UserFactory(email=VICTIM)
    codes = [
        APIClient()
        .post(
            REGISTER,
            {"email": VICTIM.upper(), "password": PASSWORD, "name": "M"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{n}",
        )
        .status_code
        for n in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
