"""What an editor can reach in the admin, in a real browser: content and impact, nothing personal."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.testing.browser import admin_login
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.browser


def test_editor_is_refused_submissions_users_and_audit_log_but_sees_services(page):
    editor = UserFactory(role=Role.EDITOR)
    submission = FormSubmissionFactory()
    admin_login(page, editor)

    refused = [
        "/admin/submissions/formsubmission/",
        f"/admin/submissions/formsubmission/{submission.pk}/change/",
        "/admin/accounts/user/",
        f"/admin/accounts/user/{editor.pk}/change/",
        "/admin/audit/auditlog/",
    ]
    statuses = {}
    for url in refused:
        statuses[url] = page.goto(url).status
        # The refusal shows nothing of what it guards.
        assert submission.data["email"] not in page.content()
    assert statuses == dict.fromkeys(refused, 403)

    page.goto("/admin/")
    app_list = page.locator("#content-main")
    expect(app_list.get_by_role("link", name="Services", exact=True)).to_be_visible()
    expect(app_list.get_by_role("link", name="Case studies", exact=True)).to_be_visible()
    expect(app_list.get_by_role("link", name="Impact stories", exact=True)).to_be_visible()
    index_text = app_list.inner_text().lower()
    for hidden in ("form submissions", "submissions", "accounts", "users", "audit"):
        assert hidden not in index_text, f"{hidden!r} is listed on an editor's admin index"
