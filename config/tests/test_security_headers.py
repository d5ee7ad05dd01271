"""
Content-Security-Policy and Permissions-Policy on every response, in every settings mode, and the
admin and Swagger UI still working under them in a real browser (no CSP violation in the console).
"""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.testing.browser import admin_login
from content.tests.factories import CaseStudyFactory, IndustryFactory


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/", "/api/v1/industries/", "/api/schema/"])
def test_every_page_gets_a_strict_csp_and_a_permissions_policy(client, path):
    response = client.get(path)

    csp = _directives(response["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    scripts = csp.get("script-src", csp["default-src"])
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts
    policy = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in policy


@pytest.mark.django_db
def test_a_cached_public_answer_carries_the_headers_too(client):
    IndustryFactory()
    client.get("/api/v1/industries/")
    again = client.get("/api/v1/industries/")
    assert "default-src 'self'" in again["Content-Security-Policy"]
    assert "camera=()" in again["Permissions-Policy"]


def _watch(page) -> list[str]:
    """Console messages and page errors, as the browser reports them."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(f"console.{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.append(f"pageerror: {error}"))
    return seen


def _violations(seen: list[str]) -> list[str]:
    return [line for line in seen if "Content Security Policy" in line or "pageerror" in line]


@pytest.mark.browser
def test_admin_works_under_the_csp_with_no_violation(page):
    seen = _watch(page)
    admin = UserFactory(role=Role.ADMIN)
    study = CaseStudyFactory()

    admin_login(page, admin)
    page.goto("/admin/content/casestudy/")
    expect(page.locator("#result_list")).to_contain_text(study.title)
    page.goto("/admin/content/casestudy/add/")
    # The inline's "add another" and the slug prepopulation are admin JavaScript: both must run.
    rows = page.locator("#results-group tbody tr.form-row:not(.empty-form)")
    before = rows.count()
    page.get_by_text("Add another Case study result", exact=True).click()
    expect(rows).to_have_count(before + 1)
    page.locator("input[name=title]").press_sequentially("Under a strict policy")
    expect(page.locator("input[name=slug]")).to_have_value("under-a-strict-policy")
    # The filter_horizontal widget is admin JavaScript too.
    expect(page.locator("#id_services_from")).to_be_visible()

    assert not _violations(seen), seen


@pytest.mark.browser
def test_swagger_ui_renders_under_the_csp_with_no_violation(page):
    seen = _watch(page)
    page.goto("/api/docs/")
    expect(page.locator(".opblock-summary-description", has_text="Your profile").first).to_be_visible()
    assert not _violations(seen), seen
