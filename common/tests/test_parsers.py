"""Request bodies that no parser can turn into data are a 400 in the API's error shape, never a 500."""

import io
import json

import pytest
from django.test import RequestFactory
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request

from accounts.tests.factories import UserFactory
from common.parsers import JSONParser

DEEP = "[" * 1000 + "]" * 1000  # 2 KB; Python's decoder gives up with RecursionError
JSON_BODIES = {
    "deep": DEEP,
    "deep in a field": '{"name": ' + DEEP + "}",
    "deep objects": '{"a":' * 1000 + "1" + "}" * 1000,
    # Parses within Python's recursion limit, yet deeper than any input here and deep enough to fail
    # later (validation, storing, rendering) with a call stack that has less room left.
    "past the depth limit": '{"preferences": '
    + "[" * (JSONParser.max_depth + 1)
    + "]" * (JSONParser.max_depth + 1)
    + "}",
    "not JSON": "{'name': 1",
    "not UTF-8": b'{"name": "\xff\xfe"}',
}
ENDPOINTS = [
    ("post", "/api/v1/auth/login/"),
    ("post", "/api/v1/auth/register/"),
    ("patch", "/api/v1/me/"),
    ("delete", "/api/v1/me/"),
    ("post", "/api/v1/submissions/contact/"),
    ("post", "/api/v1/submissions/demo-request/"),
    ("post", "/api/v1/submissions/quote-request/"),
]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body", JSON_BODIES.values(), ids=JSON_BODIES.keys())
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_a_body_that_does_not_parse_is_a_400(api_client, method, url, body):
    user = UserFactory()
    if url == "/api/v1/me/":
        api_client.force_authenticate(user)
    response = getattr(api_client, method)(url, data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"].startswith("JSON parse error")
    user.refresh_from_db()
    assert user.is_active and user.preferences == {
        "notifications": True,
        "case_study_digest": False,
        "theme": "light",
    }


@pytest.mark.parametrize(("method", "url"), [e for e in ENDPOINTS if e[1] == "/api/v1/me/"])
def test_me_without_a_token_is_a_401_whatever_the_body(api_client, method, url):
    response = getattr(api_client, method)(url, data=DEEP, content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_depth_limit_lets_ordinary_nesting_through(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    response = api_client.patch("/api/v1/me/", {"preferences": {"notifications": False, "theme": "dark"}})
    assert response.status_code == 200, response.content
    nested = "[" * JSONParser.max_depth + "]" * JSONParser.max_depth
    assert JSONParser().parse(io.BytesIO(nested.encode())) == json.loads(nested)


@pytest.mark.parametrize(
    ("content_type", "body", "name", "value"),
    [
        (
            "application/x-www-form-urlencoded",
            "a" + "[" * 1000 + "]" * 1000 + "=1",
            "a" + "[" * 1000 + "]" * 1000,
            "1",
        ),
        (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n' + DEEP + "\r\n--b--\r\n",
            "x",
            DEEP,
        ),
    ],
    ids=["form", "multipart"],
)
def test_form_parsers_take_deep_brackets_as_flat_text(content_type, body, name, value):
    """
    Form and multipart bodies (the browsable API's HTML forms send them) have no nesting: a deep-looking
    name or value is one flat string, so these parsers need no guard of their own.
    """
    request = Request(
        RequestFactory().generic("POST", "/", body, content_type=content_type),
        parsers=[FormParser(), MultiPartParser()],
    )
    assert dict(request.data) == {name: [value]}


def test_a_json_only_view_refuses_a_form_body(api_client):
    api_client.force_authenticate(UserFactory())
    body = "a" + "[" * 1000 + "]" * 1000 + "=1"
    response = api_client.generic(
        "PATCH", "/api/v1/me/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_the_browsable_api_renders_the_400_too(api_client, method, url):
    """The browsable API's renderer reads the body again to fill its forms: still a 400, in HTML."""
    user = UserFactory()
    if url == "/api/v1/me/":
        api_client.force_authenticate(user)
    response = getattr(api_client, method)(
        url, data=DEEP, content_type="application/json", HTTP_ACCEPT="text/html"
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert "JSON parse error" in response.content.decode()
