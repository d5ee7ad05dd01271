"""The content admin in a real browser: what an editor does there reaches the public API."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.models import PublishStatus
from common.testing.browser import admin_action, admin_login, api_json
from content.models import CaseStudy, Service
from content.tests.factories import CaseStudyFactory

pytestmark = pytest.mark.browser


def _row(page, pk):
    return page.locator("#result_list tbody tr").filter(has=page.locator(f"input[value='{pk}']"))


def _api_slugs(page, path):
    return [item["slug"] for item in api_json(page, path)["results"]]


def test_editor_creates_service_with_features_publishes_it_and_api_serves_it(page):
    editor = UserFactory(role=Role.EDITOR)
    admin_login(page, editor)

    page.goto("/admin/content/service/add/")
    # Typed key by key: the admin's prepopulate script follows keystrokes, not a pasted value.
    page.locator("input[name=name]").press_sequentially("Geospatial Labelling")
    expect(page.locator("input[name=slug]")).to_have_value("geospatial-labelling")
    page.fill("textarea[name=description]", "Polygons and points on satellite imagery.")
    page.select_option("select[name=icon]", "brain")
    page.fill("input[name=order]", "7")
    page.select_option("select[name=status]", PublishStatus.DRAFT)
    page.fill("input[name='features-0-title']", "Building footprints")
    page.fill("[name='features-0-description']", "Roofs traced to the metre.")
    page.fill("input[name='features-0-order']", "1")
    titles = page.locator("input[name^='features-'][name$='-title']:not([name*='__prefix__'])")
    rows_before = titles.count()
    page.get_by_text("Add another Service feature", exact=True).click()
    expect(titles).to_have_count(rows_before + 1)
    page.fill("input[name='features-1-title']", "Road networks")
    page.fill("input[name='features-1-order']", "2")
    with page.expect_navigation():
        page.click("input[name=_save]")

    expect(page.locator(".messagelist .success")).to_contain_text("Geospatial Labelling")
    service = Service.all_objects.get(slug="geospatial-labelling")
    assert service.status == PublishStatus.DRAFT
    assert service.icon == "brain"
    assert service.order == 7
    assert [(f.title, f.order) for f in service.features.order_by("order")] == [
        ("Building footprints", 1),
        ("Road networks", 2),
    ]
    expect(_row(page, service.pk).locator("td.field-state")).to_have_text("Draft")
    actions = page.locator("select[name=action] option").evaluate_all("options => options.map(o => o.value)")
    assert {"publish", "unpublish", "move_to_trash", "restore"} <= set(actions)
    assert "delete_selected" not in actions  # deleting for good is for admins only
    assert "geospatial-labelling" not in _api_slugs(page, "/api/v1/services/")

    admin_action(page, "publish", service.pk)

    expect(page.locator(".messagelist .success")).to_contain_text("published")
    expect(_row(page, service.pk).locator("td.field-state")).to_have_text("Published")
    service.refresh_from_db()
    assert service.status == PublishStatus.PUBLISHED
    assert service.published_at is not None
    published = {item["slug"]: item for item in api_json(page, "/api/v1/services/")["results"]}
    assert "geospatial-labelling" in published
    assert [f["title"] for f in published["geospatial-labelling"]["features"]] == [
        "Building footprints",
        "Road networks",
    ]


def test_case_study_moved_to_trash_leaves_the_api_and_restore_brings_it_back(page):
    editor = UserFactory(role=Role.EDITOR)
    case_study = CaseStudyFactory(title="Crop yield from drone images", slug="crop-yield")
    other = CaseStudyFactory(title="Retail shelf audit", slug="shelf-audit")
    assert set(_api_slugs(page, "/api/v1/case-studies/")) == {"crop-yield", "shelf-audit"}
    admin_login(page, editor)

    page.goto("/admin/content/casestudy/")
    expect(_row(page, case_study.pk).locator("td.field-state")).to_have_text("Published")
    admin_action(page, "move_to_trash", case_study.pk)

    expect(page.locator(".messagelist .success")).to_contain_text("trash")
    expect(_row(page, case_study.pk)).to_have_count(0)  # trashed rows are hidden by default
    expect(_row(page, other.pk)).to_have_count(1)
    assert CaseStudy.all_objects.get(pk=case_study.pk).deleted_at is not None
    assert _api_slugs(page, "/api/v1/case-studies/") == ["shelf-audit"]

    page.goto("/admin/content/casestudy/?trash=only")
    expect(_row(page, case_study.pk).locator("td.field-state")).to_have_text("In trash")
    expect(_row(page, other.pk)).to_have_count(0)
    page.goto("/admin/content/casestudy/?trash=all")
    expect(_row(page, case_study.pk).locator("td.field-state")).to_have_text("In trash")
    expect(_row(page, other.pk).locator("td.field-state")).to_have_text("Published")
    page.goto("/admin/content/casestudy/?trash=only")
    admin_action(page, "restore", case_study.pk)

    expect(page.locator(".messagelist .success")).to_contain_text("restored")
    expect(_row(page, case_study.pk)).to_have_count(0)  # no longer in the trash
    assert CaseStudy.all_objects.get(pk=case_study.pk).deleted_at is None
    assert set(_api_slugs(page, "/api/v1/case-studies/")) == {"crop-yield", "shelf-audit"}
    page.goto("/admin/content/casestudy/")
    expect(_row(page, case_study.pk).locator("td.field-state")).to_have_text("Published")
