"""The lead forms take a small JSON body and nothing else, refused before it is read."""

import json

import pytest
from django.test import client as test_client

from submissions.models import FormSubmission

from .test_api import CONTACT_URL, DEMO_URL, QUOTE_URL, contact

pytestmark = pytest.mark.django_db

FORMS = [CONTACT_URL, DEMO_URL, QUOTE_URL]
MB = 1024 * 1024


@pytest.fixture
def bytes_read(monkeypatch):
    """How many bytes of the request bodies the server read (the test client's body stream, counted)."""
    count = {"total": 0}
    read = test_client.FakePayload.read

    def counting(self, size=None, *args):
        chunk = read(self, size, *args)
        count["total"] += len(chunk)
        return chunk

    monkeypatch.setattr(test_client.FakePayload, "read", counting)
    return count


def _multipart(size: int) -> tuple[bytes, str]:
    boundary = "lead-form-boundary"
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nMeena\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\nm@example.in\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="message"\r\n\r\nHi\r\n'.encode(),
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode(),
            b"\0" * size,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("url", FORMS)
def test_a_30_mb_multipart_body_is_refused_unread(api_client, url, bytes_read):
    body, content_type = _multipart(30 * MB)
    response = api_client.generic("POST", url, body, content_type=content_type)
    assert response.status_code == 413, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert f"{65536:,}" in error["message"]
    assert bytes_read["total"] == 0
    assert not FormSubmission.objects.exists()


@pytest.mark.parametrize("url", FORMS)
def test_a_large_json_body_is_refused_unread(api_client, url, bytes_read, settings):
    body = json.dumps(contact(message="x" * settings.LEAD_FORM_MAX_BODY_BYTES))
    response = api_client.generic("POST", url, body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert bytes_read["total"] == 0
    assert not FormSubmission.objects.exists()


def test_the_limit_comes_from_settings(api_client, settings):
    settings.LEAD_FORM_MAX_BODY_BYTES = 100
    response = api_client.post(CONTACT_URL, contact(), format="json")
    assert response.status_code == 413
    assert "100 bytes" in response.json()["error"]["message"]


def test_the_longest_form_a_person_can_send_fits(api_client, bytes_read):
    # Every field at its longest, in a non-Latin script, escaped as Python's json.dumps does (6 bytes
    # a character): the limit must not turn a real visitor away.
    body = json.dumps(contact(name="ಮ" * 200, message="ಕನ್ನಡ" * 1000))
    assert len(body) > 16 * 1024
    response = api_client.generic("POST", CONTACT_URL, body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert bytes_read["total"] == len(body)  # the counter sees a body that is read
    assert FormSubmission.objects.get().data["message"] == "ಕನ್ನಡ" * 1000


@pytest.mark.parametrize("url", FORMS)
@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=b", "application/x-www-form-urlencoded", "text/plain"],
)
def test_only_json_is_taken(api_client, url, content_type):
    if content_type.startswith("multipart"):
        body = '--b\r\nContent-Disposition: form-data; name="name"\r\n\r\nMeena\r\n--b--\r\n'
    elif content_type.startswith("application/x-www"):
        body = "name=Meena&email=m%40example.in&message=Hi"
    else:
        body = json.dumps(contact())
    response = api_client.generic("POST", url, body, content_type=content_type)
    assert response.status_code == 415, response.content[:300]
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not FormSubmission.objects.exists()


def test_the_schema_names_json_only_and_the_413(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/submissions/contact/"]["post"]
    assert list(operation["requestBody"]["content"]) == ["application/json"]
    assert "413" in operation["responses"]
    assert f"{65536:,} bytes" in operation["description"]
