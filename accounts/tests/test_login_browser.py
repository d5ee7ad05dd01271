"""The admin's log-in form under the shared lockout, in a real browser at 1280 px."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.testing.browser import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def submit(page, email, password):
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")


def test_locked_admin_log_in_shows_the_lock_message_even_with_the_right_password(page, settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    editor = UserFactory(email="ed@example.com", role=Role.EDITOR)
    page.goto("/admin/login/")
    for _ in range(5):
        submit(page, "ed@example.com", "wrong-password")
        expect(page.locator(".errornote")).to_contain_text("Please enter the correct")

    submit(page, "ed@example.com", DEFAULT_PASSWORD)

    assert "/admin/login/" in page.url
    note = page.locator(".errornote")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Too many failed log-in attempts; try again in")
    expect(page.locator("#user-tools")).to_have_count(0)
    assert AuditLog.objects.filter(action="auth.locked", entity_id=str(editor.pk)).count() == 1
