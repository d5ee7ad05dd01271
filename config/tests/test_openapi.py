"""
Schemathesis fuzzes every operation of the published OpenAPI schema, in-process, anonymously and with a
token: no server error, and no response (status, headers, body) outside what the schema documents.

Each operation's Hypothesis strategy is driven from a plain parametrized test (schemathesis' own pytest
plugin does not run on pytest 9), so a failure names the operation.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tests.factories import UserFactory

METHODS = {"get", "post", "put", "patch", "delete"}
# No server error, and nothing outside the schema. Not "positive data acceptance": cross-field rules
# (a period that ends before it starts, a date in the past, an unknown service slug) cannot be said in
# OpenAPI, so schema-valid input may still rightly get a documented 400.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def schema_operations() -> list[tuple[str, str]]:
    spec = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((m.upper(), path) for path, item in spec["paths"].items() for m in item if m in METHODS)


OPERATIONS = schema_operations()
FUZZ = settings(
    max_examples=20,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api_schema(db):
    # Real content, so that lists and details return bodies worth validating.
    with open("/dev/null", "w") as quiet:
        call_command("bootstrap", stdout=quiet)
        call_command("seed_demo", stdout=quiet)
    # The WSGI handler closes the connection after each request; inside the test's transaction that
    # would drop it (and with the pool on, fail). Django's own test client disconnects it the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(db):
    _, raw = AuthToken.objects.create(UserFactory())
    return {"Authorization": f"Token {raw}"}


def _fuzz(operation, mode, **call):
    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(checks=CHECKS, **call)

    run()


def test_the_schema_lists_operations():
    assert ("GET", "/api/v1/services/") in OPERATIONS
    assert len(OPERATIONS) >= 10


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_anonymously(api_schema, method, path):
    _fuzz(api_schema[path][method], GenerationMode.POSITIVE)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_with_a_token(api_schema, auth_headers, method, path):
    _fuzz(api_schema[path][method], GenerationMode.POSITIVE, headers=auth_headers)
