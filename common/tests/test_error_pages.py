"""
Django's own 400s (raised before or around a view: a body too large, too many fields, a host not
allowed) answer in the API's error shape, except in the admin, which keeps its HTML page.
"""

import json

import pytest
from django.test import Client

from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


def _error(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    return response.json()["error"]


def test_a_form_body_over_the_memory_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = "username=a%40example.com&password=" + "x" * 2000
    response = client.generic(
        "POST", "/api/auth/login/", body, content_type="application/x-www-form-urlencoded"
    )
    error = _error(response, 413)
    assert error == {
        "code": "payload_too_large",
        "message": "The request body is larger than the 1,000 bytes allowed.",
    }


def test_a_json_body_over_the_memory_limit_in_the_api(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    user = UserFactory(name="Before")
    client.force_login(user)
    body = json.dumps({"name": "x" * 2000})
    response = client.generic("PATCH", "/api/v1/me/", body, content_type="application/json")
    assert _error(response, 413)["code"] == "payload_too_large"
    user.refresh_from_db()
    assert user.name == "Before"


def test_too_many_fields(client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{i}=1" for i in range(20))
    response = client.generic(
        "POST", "/api/auth/login/", body, content_type="application/x-www-form-urlencoded"
    )
    assert _error(response, 400) == {
        "code": "too_many_fields",
        "message": "The request has more than the 10 form fields allowed.",
    }


# Not /healthz or /readyz: the probes answer whatever Host an orchestrator sends (ops/tests/test_health.py).
@pytest.mark.parametrize("url", ["/api/v1/services/", "/api/v1/auth/login/", "/api/schema/", "/api/docs/"])
def test_a_host_not_allowed(client, settings, url):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get(url, HTTP_HOST="evil.example")
    error = _error(response, 400)
    assert error == {"code": "bad_host", "message": "The Host header names a host this site does not serve."}
    assert "evil.example" not in response.content.decode()


def test_the_admin_keeps_its_html_page(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    response = client.get("/admin/login/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
