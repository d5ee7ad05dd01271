"""
What editors do with content in a real browser (Chromium at 1280 px, under the production CSP): rich
text through the editor, scheduling an expiry in their own time zone, search, and forms that fit.
"""

import datetime
import io
import time
import zoneinfo

import pytest
from PIL import Image as PillowImage
from playwright.sync_api import expect

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.testing.browser import admin_login, api_json
from common.testing.browser import page_fits as _fits
from content.models import CaseStudy, Image
from content.tests.factories import CaseStudyFactory, IndustryFactory, ServiceFactory
from content.tests.test_images import jpeg
from impact.models import ImpactStory
from impact.tests.factories import ImpactStoryFactory, LocationFactory

pytestmark = pytest.mark.browser

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
UNSAFE = ("onerror", "<script", "javascript:", "<img", "alert(")


def _editor(page, name):
    """The ProseMirror editing surface django-prose-editor puts in place of the textarea `name`."""
    return page.locator(f".prose-editor:has(textarea[name={name}]) .ProseMirror[contenteditable=true]")


def _paste_html(page, name, html):
    """A paste of `html` as a browser delivers one copied from another page (text/html on the clipboard)."""
    _editor(page, name).evaluate(
        """(element, html) => {
            const data = new DataTransfer();
            data.setData('text/html', html);
            data.setData('text/plain', html);
            element.focus();
            element.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));
        }""",
        html,
    )


def _pick(page, field, text):
    """Chooses a library image in the admin's autocomplete picker by typing part of its alt text."""
    page.locator(f".field-{field} .select2-selection").click()
    page.locator(".select2-container--open .select2-search__field").fill(text)
    option = page.locator(".select2-results__option").filter(has_text=text)
    option.first.click()


def test_editor_adds_a_picture_and_a_rich_text_case_study_and_the_api_serves_both_clean(page, tmp_path):
    industry = IndustryFactory(name="Healthcare", slug="healthcare")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    admin_login(page, UserFactory(role=Role.EDITOR))

    # A phone photo: camera and comment in its metadata, none of which may reach the site.
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(jpeg(2400, 1600, secret=b"GPS-HOME"))
    page.goto("/admin/content/image/add/")
    _fits(page)
    page.set_input_files("input[name=upload]", str(photo))
    page.fill("input[name=alt_text]", "A chest X-ray with findings outlined")
    page.fill("input[name=credit]", "Apollo Diagnostics")
    with page.expect_navigation():
        page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    image = Image.objects.get()
    assert image.state == Image.State.READY
    thumb = page.locator("#result_list .field-preview img")
    expect(thumb).to_have_count(1)
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 400  # served, and decoded
    _fits(page)

    page.goto("/admin/content/casestudy/add/")
    _fits(page)
    page.locator("input[name=title]").press_sequentially("Chest X-rays read at scale")
    expect(page.locator("input[name=slug]")).to_have_value("chest-x-rays-read-at-scale")
    page.fill("input[name=client]", "Apollo Diagnostics")
    page.select_option("select[name=industry]", str(industry.pk))
    _pick(page, "hero_image", "chest X-ray")
    expect(page.locator(".field-hero_image .select2-selection__rendered")).to_contain_text("chest X-ray")

    challenge = _editor(page, "challenge")
    challenge.click()
    page.keyboard.type("Radiologists faced ")
    page.keyboard.press("Control+b")
    page.keyboard.type("40,000 scans")
    page.keyboard.press("Control+b")
    page.keyboard.type(" a month.")
    # What a copy from a hostile page puts on the clipboard: nothing of it may run, here or later.
    _paste_html(page, "challenge", "<p>Pasted <img src=x onerror=alert(1)> text</p><script>alert(2)</script>")
    expect(challenge).to_contain_text("Pasted")
    _editor(page, "solution").click()
    page.keyboard.type("Annotators in Mysuru labelled every image twice.")
    # A request sent around the editor (the textarea's value as posted) is cleaned on the server too.
    page.locator("textarea[name=solution]").evaluate(
        "(area) => { area.value = area.value + "
        '\'<p onclick="alert(3)"><a href="javascript:alert(4)">more</a><img src=x onerror=alert(5)></p>\'; }'
    )
    page.select_option("select[name=status]", "published")
    page.fill("input[name='results-0-metric']", "Accuracy")
    page.fill("input[name='results-0-value']", "98.5%")
    _fits(page)
    with page.expect_navigation():
        page.click("input[name=_save]")

    expect(page.locator(".messagelist .success")).to_contain_text("Chest X-rays read at scale")
    case_study = CaseStudy.objects.get(slug="chest-x-rays-read-at-scale")
    assert "<strong>40,000 scans</strong>" in case_study.challenge
    assert "Pasted" in case_study.challenge
    assert "<p>Annotators in Mysuru labelled every image twice.</p>" in case_study.solution
    assert '<a rel="noopener noreferrer nofollow">more</a>' in case_study.solution
    for field in (case_study.challenge, case_study.solution):
        assert not any(token in field for token in UNSAFE), field
    assert dialogs == []

    body = api_json(page, "/api/v1/case-studies/chest-x-rays-read-at-scale/")
    assert body["challenge"] == case_study.challenge
    assert body["excerpt"].startswith("Radiologists faced 40,000 scans a month.")
    assert "<" not in body["excerpt"]
    assert not any(token in body["challenge"] + body["solution"] for token in UNSAFE)
    assert body["results"] == [{"metric": "Accuracy", "value": "98.5%", "description": ""}]
    hero = body["hero_image"]
    assert (hero["alt_text"], hero["credit"]) == (
        "A chest X-ray with findings outlined",
        "Apollo Diagnostics",
    )
    assert (hero["width"], hero["height"]) == (1200, 800)
    assert [(r["width"], r["format"]) for r in hero["renditions"]] == [
        (1200, "webp"),
        (1200, "jpeg"),
        (400, "webp"),
        (400, "jpeg"),
    ]
    for rendition in hero["renditions"]:
        served = page.request.get(rendition["url"])
        assert served.status == 200
        assert b"GPS-HOME" not in served.body() and b"SecretCam" not in served.body()
        assert PillowImage.open(io.BytesIO(served.body())).size == (rendition["width"], rendition["height"])

    # The editor opens again on what was stored, formatting kept.
    page.goto(f"/admin/content/casestudy/{case_study.pk}/change/")
    expect(_editor(page, "challenge").locator("strong")).to_have_text("40,000 scans")
    _fits(page)
    assert dialogs == []


def test_a_scheduled_expiry_entered_in_india_time_takes_a_story_off_the_site(page):
    story = ImpactStoryFactory(title="Weavers of Mysuru", slug="weavers")
    admin_login(page, UserFactory(role=Role.EDITOR))
    assert "weavers" in [item["slug"] for item in api_json(page, "/api/v1/impact-stories/")["results"]]

    page.goto(f"/admin/impact/impactstory/{story.pk}/change/")
    _fits(page)
    # The editor types India's wall-clock time; the row stores the same instant in UTC.
    expires = (datetime.datetime.now(KOLKATA) + datetime.timedelta(seconds=6)).replace(microsecond=0)
    page.fill("input[name=expires_at_0]", expires.strftime("%Y-%m-%d"))
    page.fill("input[name=expires_at_1]", expires.strftime("%H:%M:%S"))
    with page.expect_navigation():
        page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    story.refresh_from_db()
    assert story.expires_at == expires.astimezone(datetime.UTC)
    assert page.locator("input[name=expires_at_1]").input_value() == expires.strftime("%H:%M:%S")
    expect(page.locator(".field-state .readonly")).to_contain_text("Published until")
    expect(page.locator(".field-state .readonly")).to_contain_text("IST")
    assert "weavers" in [item["slug"] for item in api_json(page, "/api/v1/impact-stories/")["results"]]

    # No save, no job: the clock takes it off the list and its page, the public cache included.
    while datetime.datetime.now(KOLKATA) <= expires:
        time.sleep(0.5)
    assert "weavers" not in [item["slug"] for item in api_json(page, "/api/v1/impact-stories/")["results"]]
    response = page.request.get("/api/v1/impact-stories/weavers/")
    assert response.status == 404

    page.goto("/admin/impact/impactstory/?state=expired")
    row = page.locator("#result_list tbody tr").filter(has_text="Weavers of Mysuru")
    expect(row.locator("td.field-state")).to_contain_text("Expired on")
    # The state is the first column of the list.
    expect(page.locator("#result_list thead th").nth(1)).to_contain_text("State")
    _fits(page)
    page.goto("/admin/impact/impactstory/?state=published")
    expect(page.locator("#result_list tbody tr").filter(has_text="Weavers of Mysuru")).to_have_count(0)
    assert ImpactStory.all_objects.get(pk=story.pk).publish_state == "expired"


def test_a_search_for_xray_finds_the_x_ray_case_study_in_the_api_and_the_admin(page):
    CaseStudyFactory(title="Chest X-rays read at scale", slug="chest-x-rays", client="Apollo")
    CaseStudyFactory(title="Retail shelf audit", slug="shelf-audit", client="MegaMart")
    found = api_json(page, "/api/v1/case-studies/?search=xray")["results"]
    assert [item["slug"] for item in found] == ["chest-x-rays"]

    admin_login(page, UserFactory(role=Role.EDITOR))
    page.goto("/admin/content/casestudy/")
    page.fill("#searchbar", "xray")
    with page.expect_navigation():
        page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Chest X-rays read at scale")
    _fits(page)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/content/casestudy/add/",
        "/admin/content/casestudy/",
        "/admin/content/service/add/",
        "/admin/content/service/",
        "/admin/impact/impactstory/add/",
        "/admin/impact/impactstory/",
        "/admin/impact/location/",
        "/admin/impact/impactmetric/",
        "/admin/content/image/",
        "/admin/content/image/add/",
        "/admin/content/slugredirect/",
    ],
)
def test_every_content_form_and_list_fits_1280_px(page, path):
    ServiceFactory(name="Data collection and preparation at scale")
    case_study = CaseStudyFactory(title="A case study with a long title about labelling satellite images")
    case_study.results.create(metric="Accuracy", value="98%", description="Measured on a held-out set.")
    ImpactStoryFactory(location=LocationFactory(name="Mysuru", country="IN"))
    admin_login(page, UserFactory(role=Role.EDITOR))
    page.goto(path)
    expect(page.locator("#content")).to_be_visible()
    _fits(page)


def test_an_editor_compares_two_revisions_and_reverts_to_the_older(page):
    editor = UserFactory(role=Role.EDITOR)
    admin_login(page, editor)
    case_study = CaseStudyFactory(title="Shelf audit", slug="shelf-audit", challenge="<p>Empty shelves.</p>")
    case_study.results.create(metric="Accuracy", value="95%")

    page.goto(f"/admin/content/casestudy/{case_study.pk}/change/")
    with page.expect_navigation():
        page.click("input[name=_continue]")  # the first revision, as it stands
    challenge = _editor(page, "challenge")
    challenge.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Shelves emptied by a broken forecast.")
    page.fill("input[name='results-0-value']", "99%")
    with page.expect_navigation():
        page.click("input[name=_continue]")
    expect(page.locator(".messagelist .success")).to_be_visible()
    assert CaseStudy.objects.get(pk=case_study.pk).challenge == "<p>Shelves emptied by a broken forecast.</p>"

    page.click("a.historylink")
    revisions = page.locator("tr.revision")
    expect(revisions).to_have_count(2)
    expect(revisions.first).to_contain_text("Changed challenge (case study results)")
    expect(revisions.first).to_contain_text(editor.email)
    _fits(page)
    revisions.nth(0).locator("input[name=version]").check()
    revisions.nth(1).locator("input[name=version]").check()
    with page.expect_navigation():
        page.click("input[type=submit]")
    changed = page.locator("#differences tr.changed")
    expect(changed).to_have_count(2)
    expect(changed.filter(has_text="Challenge")).to_contain_text("Empty shelves.")
    expect(changed.filter(has_text="Challenge")).to_contain_text("Shelves emptied by a broken forecast.")
    expect(changed.filter(has_text="Case study results")).to_contain_text("Accuracy: 99%")
    _fits(page)

    page.go_back()
    page.locator("tr.revision").nth(1).locator("a.revert").click()
    expect(page.locator("h1")).to_contain_text("Revert")
    _fits(page)
    with page.expect_navigation():
        page.click("input[name=revert]")
    expect(page.locator(".messagelist .success")).to_contain_text("is back to its revision of")
    reverted = CaseStudy.objects.get(pk=case_study.pk)
    assert reverted.challenge == "<p>Empty shelves.</p>"
    assert [r.value for r in reverted.results.all()] == ["95%"]
    body = api_json(page, "/api/v1/case-studies/shelf-audit/")
    assert body["challenge"] == "<p>Empty shelves.</p>" and body["results"][0]["value"] == "95%"
    page.click("a.historylink")
    expect(page.locator("tr.revision").first).to_contain_text("Reverted to the revision of")
    expect(page.locator("tr.revision")).to_have_count(3)
