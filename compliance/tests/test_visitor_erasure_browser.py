"""The admin's erasure of a visitor's forms, in a real browser at 1280 px."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.testing.browser import admin_login
from compliance.models import ErasureRecord
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.browser


def test_admin_finds_previews_and_confirms_a_visitor_erasure(page):
    admin = UserFactory(role=Role.ADMIN)
    for _ in range(2):
        FormSubmissionFactory(user=None, data={"name": "V", "email": "visitor@corp.example"})
    kept = FormSubmissionFactory(user=None, data={"name": "O", "email": "other@corp.example"})
    admin_login(page, admin)

    page.goto("/admin/accounts/user/")
    page.click("text=Erase a visitor's forms (GDPR)")
    page.fill("input[name=email]", "Visitor@Corp.example")
    with page.expect_navigation():
        page.click("input[value='Show what would be erased']")
    expect(page.locator("#erase-visitor-preview")).to_contain_text("2")
    assert FormSubmission.objects.count() == 3

    with page.expect_navigation():
        page.click("input[value='Yes, erase them']")

    expect(page.locator(".messagelist")).to_contain_text("Erased the visitor's forms")
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [kept.pk]
    assert ErasureRecord.objects.get().reason == "visitor"
    # The last page of the screenshot: the preview step, shown again for the record.
    page.goto("/admin/accounts/user/erase-visitor-data/")
    page.fill("input[name=email]", "other@corp.example")
    with page.expect_navigation():
        page.click("input[value='Show what would be erased']")
    expect(page.locator("#erase-visitor-preview")).to_contain_text("1")
