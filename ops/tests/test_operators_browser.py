"""
The operators' and admins' new pages in a real browser (Chromium at 1280 px): the database metrics with
disk space and (on PostgreSQL) activity and vacuum, the users list filtered by a preference, and the
case-study digests sent.
"""

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from common.testing.browser import admin_login, page_fits
from content.digest import case_study_digest_send
from content.tests.factories import CaseStudyFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def admin(db):
    return UserFactory(role=Role.ADMIN, email="ops-admin@example.com")


def test_the_database_metrics_page_shows_disk_space_and_fits(page, admin):
    admin_login(page, admin)
    page.goto(page.live_server_url + "/admin/ops/db-metrics/")
    # Section titles are set in capitals by the admin's CSS, which inner_text() applies.
    text = page.locator("#content").inner_text().lower()
    assert "disk free (private)" in text and "disk free (backups)" in text
    if connection.vendor == "postgresql":
        for title in ("active queries", "queries running over 5 s", "dead rows and vacuum", "wal archiving"):
            assert title in text
    page_fits(page)


def test_an_admin_filters_users_by_the_digest_preference_and_sees_the_digests(page, admin):
    reader = UserFactory(email="reader@example.com")
    User.objects.filter(pk=reader.pk).update(
        preferences={"case_study_digest": True}, email_verified_at=timezone.now()
    )
    UserFactory(email="quiet@example.com")
    CaseStudyFactory(title="Crop disease images")
    case_study_digest_send()

    admin_login(page, admin)
    page.goto(page.live_server_url + "/admin/accounts/user/")
    with page.expect_navigation():
        page.get_by_role("link", name="Case study digest: on").click()
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    assert [row.split()[0] for row in rows] == ["reader@example.com"]
    page_fits(page)

    page.goto(page.live_server_url + "/admin/content/digest/")
    row = page.locator("#result_list tbody tr").inner_text()
    assert row.split("\t")[-2:] == ["1", "1"]  # one case study, one mail
    page_fits(page)
