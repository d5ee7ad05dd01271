"""
The editors' content management without a browser: rich text cleaned on every write path, expiry,
search, SEO fields and old slugs, forms whose errors sit on their field, the admin in India's time.
"""

import datetime
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from common.models import PublishStatus
from common.richtext import excerpt, paragraphs, plain_text, sanitize
from content.models import CaseStudy, SlugRedirect
from content.publishing import content_save

from .factories import CaseStudyFactory, IndustryFactory, ServiceFactory

pytestmark = pytest.mark.django_db

HOSTILE = (
    '<p onclick="steal()">Hi <script>alert(1)</script><img src=x onerror=alert(2)>'
    '<a href="javascript:alert(3)">x</a><a href="https://example.org" target="_blank">ok</a>'
    '<iframe src="https://evil.example"></iframe><style>p{}</style><h1>Big</h1><h2>Sub</h2></p>'
)


def _unsafe(html: str) -> list[str]:
    return [
        token
        for token in ("<script", "onerror", "onclick", "javascript:", "<img", "<iframe", "<style", "alert(")
        if token in html
    ]


# --- Rich text -----------------------------------------------------------------------------------------


def test_sanitize_keeps_the_allowed_markup_and_nothing_executable():
    cleaned = sanitize(HOSTILE)
    assert _unsafe(cleaned) == []
    assert '<a href="https://example.org" rel="noopener noreferrer nofollow">ok</a>' in cleaned
    assert "<h2>Sub</h2>" in cleaned and "<h1>" not in cleaned and "Big" in cleaned
    assert "target=" not in cleaned
    assert sanitize("<ul><li><strong>a</strong> &amp; <em>b</em></li></ul>") == (
        "<ul><li><strong>a</strong> &amp; <em>b</em></li></ul>"
    )
    assert sanitize("<p></p>") == "" and sanitize("<p><br></p>") == "" and sanitize(None) == ""


def test_excerpt_is_plain_text_cut_at_a_word():
    html = "<h2>Title</h2><p>One &amp; two <strong>three</strong></p><ul><li>four</li></ul>"
    assert plain_text(html) == "Title One & two three four"
    assert excerpt(html, 15) == "Title One & two…"  # the cut falls between two words
    assert excerpt(html, 14) == "Title One &…"  # "two" would be cut: back to the word before
    assert excerpt(html, 200) == "Title One & two three four"
    assert paragraphs("a < b\n\nsecond\nline") == "<p>a &lt; b</p><p>second<br>line</p>"


@pytest.mark.parametrize("path", ["save", "bulk_create", "update", "form"])
def test_every_write_path_stores_clean_html(path):
    industry = IndustryFactory()
    fields = dict(title="T", slug="t", client="C", industry=industry, challenge=HOSTILE, solution=HOSTILE)
    if path == "save":
        CaseStudy.objects.create(**fields)
    elif path == "bulk_create":
        CaseStudy.objects.bulk_create([CaseStudy(**fields)])
    elif path == "update":
        CaseStudyFactory(slug="t")
        CaseStudy.objects.filter(slug="t").update(challenge=HOSTILE, solution=HOSTILE)
    else:
        client = Client()
        client.force_login(UserFactory(role=Role.EDITOR))
        response = client.post(reverse("admin:content_casestudy_add"), _case_study_form(industry, slug="t"))
        assert response.status_code == 302, response.context["adminform"].form.errors
    stored = CaseStudy.all_objects.values("challenge", "solution").get(slug="t")
    assert _unsafe(stored["challenge"] + stored["solution"]) == []
    assert "ok</a>" in stored["challenge"]


def test_the_api_serves_the_clean_html_and_an_excerpt(api_client):
    CaseStudyFactory(slug="shop", challenge="<p>Shelves <b>empty</b></p><script>x()</script>")
    body = api_client.get("/api/v1/case-studies/shop/").json()
    assert body["challenge"] == "<p>Shelves <b>empty</b></p>"
    assert body["excerpt"] == "Shelves empty"
    listed = api_client.get("/api/v1/case-studies/").json()["results"][0]
    assert listed["excerpt"] == "Shelves empty" and listed["challenge"] == body["challenge"]


# --- Expiry --------------------------------------------------------------------------------------------


def test_an_expired_row_leaves_the_site_without_a_save_the_cached_list_included(api_client):
    ServiceFactory(slug="kept")
    ServiceFactory(slug="leaving", expires_at=timezone.now() + datetime.timedelta(hours=1))
    case_study = CaseStudyFactory(slug="ending", expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert sorted(s["slug"] for s in api_client.get("/api/v1/services/").json()["results"]) == [
        "kept",
        "leaving",
    ]
    assert api_client.get("/api/v1/case-studies/ending/").status_code == 200  # stored in the cache

    later = timezone.now() + datetime.timedelta(hours=2)
    with (
        mock.patch("django.utils.timezone.now", return_value=later),
        mock.patch("common.caching.time.time", return_value=later.timestamp()),
    ):
        assert [s["slug"] for s in api_client.get("/api/v1/services/").json()["results"]] == ["kept"]
        assert api_client.get("/api/v1/case-studies/ending/").status_code == 404
        assert CaseStudy.objects.get(pk=case_study.pk).publish_state == "expired"
        assert list(CaseStudy.objects.expired()) == [case_study]


def test_an_expired_service_is_not_shown_on_a_case_study(api_client):
    service = ServiceFactory(slug="gone", expires_at=timezone.now() - datetime.timedelta(minutes=1))
    CaseStudyFactory(slug="shop").services.add(service)
    assert api_client.get("/api/v1/case-studies/shop/").json()["services"] == []


def test_an_expiry_before_the_publication_is_refused_on_its_field_and_by_the_database():
    industry = IndustryFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    data = _case_study_form(industry, slug="t", status="published")
    data |= {"published_at_0": "2026-01-10", "published_at_1": "10:00:00"}
    data |= {"expires_at_0": "2026-01-09", "expires_at_1": "10:00:00"}
    response = client.post(reverse("admin:content_casestudy_add"), data)
    form = response.context["adminform"].form
    assert form.errors == {"expires_at": ["The expiry must come after the publication time."]}
    assert not CaseStudy.all_objects.exists()

    row = CaseStudyFactory()
    with pytest.raises(Exception, match="expires_after_published"):
        CaseStudy.objects.filter(pk=row.pk).update(expires_at=row.published_at - datetime.timedelta(days=1))


def test_published_with_no_time_means_now():
    row = CaseStudyFactory.build(
        industry=IndustryFactory(), status=PublishStatus.PUBLISHED, published_at=None
    )
    before = timezone.now()
    content_save(instance=row, actor=None)
    assert row.published_at is not None and before <= row.published_at <= timezone.now()
    assert row.publish_state == "published"


# --- Search --------------------------------------------------------------------------------------------


def _search(api_client, path, text):
    return [item["slug"] for item in api_client.get(f"{path}?search={text}").json()["results"]]


def test_search_finds_near_misses_and_words_in_the_bodies(api_client):
    CaseStudyFactory(
        slug="xray",
        title="Chest X-rays read at scale",
        client="Apollo",
        challenge="<p>Radiologists were swamped.</p>",
    )
    CaseStudyFactory(
        slug="shelf",
        title="Retail shelf audit",
        client="MegaMart",
        solution="<p>Photos labelled by annotators.</p>",
    )
    path = "/api/v1/case-studies/"
    assert _search(api_client, path, "xray") == ["xray"]
    assert _search(api_client, path, "x-ray") == ["xray"]
    assert _search(api_client, path, "megamart") == ["shelf"]
    assert _search(api_client, path, "radiologists") == ["xray"]
    assert _search(api_client, path, "shelf audit") == ["shelf"]
    assert _search(api_client, path, "nothing-like-it") == []


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="ranking and stemming are PostgreSQL's")
def test_on_postgresql_search_stems_and_ranks_titles_first(api_client):
    CaseStudyFactory(
        slug="body",
        title="Retail",
        challenge="<p>Images for labelling.</p>",
        published_at=timezone.now() - datetime.timedelta(days=1),
    )
    CaseStudyFactory(
        slug="title",
        title="Labelled images for a retailer",
        published_at=timezone.now() - datetime.timedelta(days=9),
    )
    # "labels" finds "labelling" and "Labelled" (stems); the title match ranks first though older.
    assert _search(api_client, "/api/v1/case-studies/", "labels") == ["title", "body"]
    assert _search(api_client, "/api/v1/case-studies/", "labels&ordering=-published_at") == ["body", "title"]


def test_impact_story_search_and_admin_search(api_client):
    from impact.tests.factories import ImpactStoryFactory

    ImpactStoryFactory(slug="weavers", title="Weavers of Mysuru", story="<p>Handlooms and e-commerce</p>")
    ImpactStoryFactory(slug="farmers", title="Farmers of Kolar")
    assert _search(api_client, "/api/v1/impact-stories/", "handlooms") == ["weavers"]
    assert _search(api_client, "/api/v1/impact-stories/", "kolar farmers") == ["farmers"]
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    shown = client.get(reverse("admin:impact_impactstory_changelist") + "?q=mysuru").context["cl"].result_list
    assert [story.slug for story in shown] == ["weavers"]


def test_a_searched_list_costs_the_queries_of_an_unsearched_one(api_client, django_assert_num_queries):
    for index in range(5):
        CaseStudyFactory(title=f"X-ray study {index}").services.add(ServiceFactory())
    api_client.get("/api/v1/case-studies/?search=warm")  # the cache's schedule, read once
    # Count, page, results, services, gallery links: as without `search` (content/tests/test_api.py).
    with django_assert_num_queries(5):
        assert len(api_client.get("/api/v1/case-studies/?search=xray&limit=100").json()["results"]) == 5


# --- SEO and renamed slugs -------------------------------------------------------------------------------


def test_meta_fields_fall_back_to_the_title_and_the_start_of_the_text(api_client):
    CaseStudyFactory(slug="plain", title="Plain", challenge="<p>" + "word " * 60 + "</p>")
    CaseStudyFactory(slug="set", title="Set", meta_title="For engines", meta_description="Short summary.")
    plain = api_client.get("/api/v1/case-studies/plain/").json()
    assert plain["meta_title"] == "Plain"
    assert plain["meta_description"].endswith("…") and len(plain["meta_description"]) <= 161
    chosen = api_client.get("/api/v1/case-studies/set/").json()
    assert (chosen["meta_title"], chosen["meta_description"]) == ("For engines", "Short summary.")
    service = ServiceFactory(slug="svc", name="Labelling", description="We label.")
    body = api_client.get(f"/api/v1/services/{service.slug}/").json()
    assert (body["meta_title"], body["meta_description"]) == ("Labelling", "We label.")


def test_a_renamed_published_slug_answers_with_a_301_to_the_new_one(api_client):
    editor = UserFactory(role=Role.EDITOR)
    row = CaseStudyFactory(slug="old-name")
    row.slug = "new-name"
    content_save(instance=row, actor=editor, changed=["slug"])
    row.slug = "newest-name"
    content_save(instance=row, actor=editor, changed=["slug"])

    for old in ("old-name", "new-name"):
        response = api_client.get(f"/api/v1/case-studies/{old}/?format=json")
        assert response.status_code == 301
        assert response["Location"] == "http://testserver/api/v1/case-studies/newest-name/?format=json"
        assert response.json() == {"detail": "Moved permanently.", "slug": "newest-name"}
        assert "max-age" in response["Cache-Control"]
    assert api_client.get("/api/v1/case-studies/newest-name/").status_code == 200
    assert api_client.get("/api/v1/case-studies/never-was/").status_code == 404


def test_an_old_slug_taken_by_another_row_or_an_unpublished_row_does_not_redirect(api_client):
    editor = UserFactory(role=Role.EDITOR)
    row = CaseStudyFactory(slug="first")
    row.slug = "second"
    content_save(instance=row, actor=editor)
    newcomer = CaseStudyFactory(slug="first", title="Newcomer")
    assert api_client.get("/api/v1/case-studies/first/").json()["title"] == "Newcomer"

    newcomer.slug = "third"
    content_save(instance=newcomer, actor=editor)
    row.status = PublishStatus.DRAFT
    content_save(instance=row, actor=editor)
    assert api_client.get("/api/v1/case-studies/second/").status_code == 404
    # "first" now belongs to both renamed rows' history: the latest rename wins.
    assert SlugRedirect.objects.get(old_slug="first").object_id == newcomer.pk


def test_a_draft_renamed_keeps_no_redirect_and_a_slug_taken_back_drops_its_own():
    editor = UserFactory(role=Role.EDITOR)
    draft = CaseStudyFactory(slug="draft-a", status=PublishStatus.DRAFT)
    draft.slug = "draft-b"
    content_save(instance=draft, actor=editor)
    assert not SlugRedirect.objects.exists()
    row = CaseStudyFactory(slug="a")
    row.slug = "b"
    content_save(instance=row, actor=editor)
    row.slug = "a"
    content_save(instance=row, actor=editor)
    assert list(SlugRedirect.objects.values_list("old_slug", flat=True)) == ["b"]


# --- Forms ----------------------------------------------------------------------------------------------


def _case_study_form(industry, **overrides):
    return {
        "title": "A title",
        "slug": "a-title",
        "client": "A client",
        "industry": str(industry.pk),
        "challenge": HOSTILE,
        "solution": "<p>Done.</p>",
        "status": "draft",
        "meta_title": "",
        "meta_description": "",
        "results-TOTAL_FORMS": 0,
        "results-INITIAL_FORMS": 0,
        **overrides,
    }


def test_a_duplicate_slug_is_an_error_on_the_slug_field():
    industry = IndustryFactory()
    CaseStudyFactory(slug="taken")
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    response = client.post(reverse("admin:content_casestudy_add"), _case_study_form(industry, slug="taken"))
    form = response.context["adminform"].form
    assert form.errors == {"slug": ["Another live item already uses this slug."]}
    assert form.non_field_errors() == []


def test_the_state_column_comes_first_and_the_filters_find_scheduled_and_expired():
    now = timezone.now()
    live = CaseStudyFactory(title="Live")
    soon = CaseStudyFactory(title="Soon", published_at=now + datetime.timedelta(days=1))
    over = CaseStudyFactory(
        title="Over",
        expires_at=now - datetime.timedelta(minutes=1),
        published_at=now - datetime.timedelta(days=2),
    )
    draft = CaseStudyFactory(title="Draft", status=PublishStatus.DRAFT)
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    url = reverse("admin:content_casestudy_changelist")
    changelist = client.get(url).context["cl"]
    assert changelist.list_display[:3] == ["action_checkbox", "state", "title"]
    assert list(changelist.list_display_links) == ["title"]
    for state, expected in [("published", live), ("scheduled", soon), ("expired", over), ("draft", draft)]:
        assert list(client.get(f"{url}?state={state}").context["cl"].result_list) == [expected]
    page = client.get(url).content.decode()
    assert "Scheduled for" in page and "Expired on" in page and "IST" in page


def test_the_admin_shows_and_takes_india_time_and_the_api_keeps_utc(api_client):
    row = CaseStudyFactory(slug="t", published_at=datetime.datetime(2026, 1, 1, 4, 30, tzinfo=datetime.UTC))
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    page = client.get(reverse("admin:content_casestudy_change", args=[row.pk])).content.decode()
    assert 'name="published_at_1" value="10:00:00"' in page
    assert api_client.get("/api/v1/case-studies/t/").json()["published_at"] == "2026-01-01T04:30:00Z"
    assert timezone.get_current_timezone_name() == "UTC"  # nothing leaks past the admin's request

    data = _case_study_form(row.industry, slug="t", title=row.title, status="published")
    data |= {"published_at_0": "2026-02-01", "published_at_1": "09:00:00"}
    response = client.post(reverse("admin:content_casestudy_change", args=[row.pk]), data)
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.published_at == datetime.datetime(2026, 2, 1, 3, 30, tzinfo=datetime.UTC)


def test_a_misspelt_editor_time_zone_fails_the_checks(settings):
    from common.checks import editor_time_zone_check

    settings.EDITOR_TIME_ZONE = "Asia/Calcuta"
    assert [error.id for error in editor_time_zone_check()] == ["common.E104"]
    settings.EDITOR_TIME_ZONE = "Asia/Kolkata"
    assert editor_time_zone_check() == []


def test_queries_of_the_change_form_do_not_grow_with_the_results():
    row = CaseStudyFactory()
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    url = reverse("admin:content_casestudy_change", args=[row.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(10):
        row.results.create(metric=f"M{index}", value="1", order=index)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)
