"""
The authorization matrix: every operation of the OpenAPI schema, called by each kind of caller, gets the
status in this table. A new operation without a row fails the test, so nobody ships an endpoint whose
access rules were never decided.

Every signed-in cell runs twice: with a knox token (API clients) and with a session started on the
browsable API's log-in form, CSRF enforced as in a browser (the `X-CSRFToken` header). Both must give
the row's status; an operation that cannot work with a session says so in SESSION_DIFFERS.
"""

import itertools

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.tests.factories import UserFactory
from accounts.tests.sessions import PASSWORD, browser_session
from content.tests.factories import CaseStudyFactory, ServiceFactory
from impact.tests.factories import ImpactStoryFactory
from uploads.models import FileAnalysis, FileUpload

from .test_openapi import OPERATIONS

CALLERS = ("anonymous", "user", "other_user", "editor", "admin")
# Anonymous runs once; each signed-in caller runs once per way of signing in.
AUTH_MODES = {"anonymous": CALLERS[:1], "token": CALLERS[1:], "session": CALLERS[1:]}
_emails = itertools.count()


def _everyone(status):
    return dict.fromkeys(CALLERS, status)


def _signed_in(status):
    return {"anonymous": 401, **dict.fromkeys(CALLERS[1:], status)}


def _owner_only(status):
    # Another user's upload is as absent as one that never existed, for staff too: the API is the
    # owner's; staff use the admin.
    return {"anonymous": 401, "user": status, "other_user": 404, "editor": 404, "admin": 404}


def _new_email():
    return f"matrix{next(_emails)}@example.com"


# (method, path) -> (request body or None, {caller: expected status})
MATRIX = {
    ("GET", "/api/v1/services/"): (None, _everyone(200)),
    ("GET", "/api/v1/services/{slug}/"): (None, _everyone(200)),
    ("GET", "/api/v1/industries/"): (None, _everyone(200)),
    ("GET", "/api/v1/case-studies/"): (None, _everyone(200)),
    ("GET", "/api/v1/case-studies/{slug}/"): (None, _everyone(200)),
    ("GET", "/api/v1/locations/"): (None, _everyone(200)),
    ("GET", "/api/v1/impact-stories/"): (None, _everyone(200)),
    ("GET", "/api/v1/impact-stories/{slug}/"): (None, _everyone(200)),
    ("GET", "/api/v1/impact-metrics/summary/"): (None, _everyone(200)),
    ("POST", "/api/v1/submissions/contact/"): (
        lambda ctx: {"name": "Asha", "email": "asha@example.com", "message": "Hello"},
        _everyone(201),
    ),
    ("POST", "/api/v1/submissions/demo-request/"): (
        lambda ctx: {
            "name": "Asha",
            "email": "asha@example.com",
            "company": "Acme",
            "preferred_date": "2099-01-01",
            "services": [ctx["service"].slug],
        },
        _everyone(201),
    ),
    ("POST", "/api/v1/submissions/quote-request/"): (
        lambda ctx: {
            "name": "Asha",
            "email": "asha@example.com",
            "company": "Acme",
            "services": [ctx["service"].slug],
            "budget_range": "10k-25k",
            "timeline": "1-3 months",
            "data_volume": "10,000 images",
        },
        _everyone(201),
    ),
    ("POST", "/api/v1/auth/register/"): (
        lambda ctx: {"email": _new_email(), "password": "a-long-unusual-passphrase", "name": "New"},
        _everyone(202),
    ),
    ("POST", "/api/v1/auth/verify-email/"): (
        lambda ctx: {
            "token": __import__("accounts.verification").verification.email_verification_token(
                user=ctx["caller"] or ctx["login_user"]
            )
        },
        _signed_in(200),
    ),
    ("POST", "/api/v1/auth/verify-email/resend/"): (lambda ctx: {}, _signed_in(202)),
    ("POST", "/api/v1/auth/login/"): (
        lambda ctx: {"email": ctx["login_user"].email, "password": PASSWORD},
        _everyone(200),
    ),
    ("POST", "/api/v1/auth/unsubscribe/"): (
        # The token is the proof: whoever holds the link, signed in as anyone or not.
        lambda ctx: {
            "token": __import__("accounts.preferences").preferences.unsubscribe_token(
                user=ctx["login_user"], flag="case_study_digest"
            )
        },
        _everyone(200),
    ),
    ("POST", "/api/v1/auth/logout/"): (lambda ctx: {}, {**_signed_in(204)}),
    ("POST", "/api/v1/auth/logout-all/"): (lambda ctx: {}, _signed_in(204)),
    ("GET", "/api/v1/me/"): (None, _signed_in(200)),
    ("GET", "/api/v1/uploads/"): (None, _signed_in(200)),
    ("POST", "/api/v1/uploads/"): (
        lambda ctx: ("multipart", {"file": SimpleUploadedFile("sample.csv", b"id,name\n1,Asha\n")}),
        _signed_in(201),
    ),
    ("GET", "/api/v1/uploads/{upload_id}/"): (None, _owner_only(200)),
    ("GET", "/api/v1/uploads/{upload_id}/analysis/"): (None, _owner_only(200)),
    ("DELETE", "/api/v1/uploads/{upload_id}/"): (None, _owner_only(204)),
    ("PATCH", "/api/v1/me/"): (lambda ctx: {"name": "Renamed"}, _signed_in(200)),
    ("GET", "/api/v1/me/export/"): (None, _signed_in(200)),
    # Each caller erases their own account; the world's one admin is the last active admin: refused.
    ("DELETE", "/api/v1/me/"): (
        lambda ctx: {"password": PASSWORD},
        {**_signed_in(204), "admin": 409},
    ),
}

# (method, path) -> {caller: status} where a session must get something else than a token, with the
# reason beside it. Empty: every operation works with both (auth/logout/ ends the session).
SESSION_DIFFERS: dict = {}


def test_every_schema_operation_has_a_row_and_no_row_is_stale():
    assert set(OPERATIONS) - set(MATRIX) == set(), "operations with no authorization row"
    assert set(MATRIX) - set(OPERATIONS) == set(), "rows for operations that no longer exist"


def _upload_of(user):
    upload = FileUpload.objects.create(
        user=user, filename="a.csv", size=3, mime_type="text/csv", status="completed"
    )
    FileAnalysis.objects.create(upload=upload, summary="A CSV file with 1 row.")
    return upload


@pytest.fixture
def world(db):
    service = ServiceFactory()
    case_study = CaseStudyFactory()
    story = ImpactStoryFactory()
    users = {
        "user": UserFactory(role=Role.USER),
        "other_user": UserFactory(role=Role.USER),
        "editor": UserFactory(role=Role.EDITOR),
        "admin": UserFactory(role=Role.ADMIN),
    }
    slugs = {
        "/api/v1/services/{slug}/": service.slug,
        "/api/v1/case-studies/{slug}/": case_study.slug,
        "/api/v1/impact-stories/{slug}/": story.slug,
    }
    return {"service": service, "users": users, "slugs": slugs}


def _signed_in_client(user, mode) -> tuple[APIClient, dict]:
    """A client signed in as `user` the `mode` way, and the headers each of its requests carries."""
    client = APIClient(enforce_csrf_checks=True)
    if mode == "token":
        _, token = AuthToken.objects.create(user)
        return client, {"HTTP_AUTHORIZATION": f"Token {token}"}
    return browser_session(user.email)


CELLS = [(method, path, mode) for method, path in sorted(MATRIX) for mode in AUTH_MODES]


@pytest.mark.parametrize(("method", "path", "mode"), CELLS, ids=[f"{m} {p} [{a}]" for m, p, a in CELLS])
def test_authorization_matrix(world, method, path, mode):
    body_for, expected = MATRIX[(method, path)]
    if mode == "session":
        expected = {**expected, **SESSION_DIFFERS.get((method, path), {})}
    url = path.replace("{slug}", world["slugs"].get(path, ""))
    got = {}
    for caller in AUTH_MODES[mode]:
        if "{upload_id}" in path:  # a fresh upload of "user" each time: one caller's DELETE hides nothing
            url = path.replace("{upload_id}", str(_upload_of(world["users"]["user"]).pk))
        cache.clear()  # throttles and lockouts count per test, not across the callers
        if caller == "anonymous":
            client, headers = APIClient(enforce_csrf_checks=True), {}
        else:
            client, headers = _signed_in_client(world["users"][caller], mode)
        caller_user = None if caller == "anonymous" else world["users"][caller]
        ctx = {**world, "login_user": UserFactory(), "caller": caller_user}
        body = body_for(ctx) if body_for else None
        fmt = "json"
        if isinstance(body, tuple):
            fmt, body = body
        response = getattr(client, method.lower())(url, body, format=fmt, **headers)
        got[caller] = response.status_code
    assert got == {caller: expected[caller] for caller in AUTH_MODES[mode]}


def test_throttled_responses_document_retry_after():
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    contact = spec["paths"]["/api/v1/submissions/contact/"]["post"]["responses"]["429"]
    assert contact["headers"]["Retry-After"]["schema"]["type"] == "integer"
    assert contact["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
