"""
Issue 13, items 1 and 7: an account owns the forms sent without an account only once it has proved it
controls the address (a signed, expiring, single-use link); registration says nothing about which
addresses have accounts and is throttled.
"""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from submissions.models import FormSubmission

pytestmark = pytest.mark.django_db

VICTIM = "victim@corp.example"
SECRET = "Our Q3 acquisition target is Globex."
PASSWORD = "plum-orchard-lantern-42"
REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
VERIFY = "/api/v1/auth/verify-email/"
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
