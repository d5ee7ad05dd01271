"""Revisions: every save of a publishable item, inlines included; compare; revert; erasure; retention."""

import datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from reversion.models import Revision, Version

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.models import PublishStatus
from content.models import CaseStudy
from content.publishing import content_save, publishable_publish
from content.revisions import revision_compare, revision_list

from .factories import IndustryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _form(industry, **overrides):
    data = {
        "title": "Shelf audit",
        "slug": "shelf-audit",
        "client": "MegaMart",
        "industry": str(industry.pk),
        "services": [],
        "challenge": "<p>Empty shelves.</p>",
        "solution": "<p>Photos, labelled.</p>",
        "status": "draft",
        "meta_title": "",
        "meta_description": "",
        "results-TOTAL_FORMS": 1,
        "results-INITIAL_FORMS": 0,
        "results-0-metric": "Accuracy",
        "results-0-value": "95%",
        "results-0-description": "",
        "results-0-order": 0,
    }
    return {**data, **overrides}


@pytest.fixture
def editor_client():
    editor = UserFactory(role=Role.EDITOR, email="editor@example.com")
    client = Client()
    client.force_login(editor)
    client.editor = editor
    return client


def _edit(client, case_study, **overrides):
    """Saves the change form as an editor does, with the current inline rows."""
    results = list(case_study.results.order_by("order", "created_at"))
    data = _form(
        case_study.industry, **{"results-TOTAL_FORMS": len(results), "results-INITIAL_FORMS": len(results)}
    )
    for index, row in enumerate(results):
        data |= {
            f"results-{index}-id": str(row.pk),
            f"results-{index}-case_study": str(case_study.pk),
            f"results-{index}-metric": row.metric,
            f"results-{index}-value": row.value,
            f"results-{index}-description": row.description,
            f"results-{index}-order": row.order,
        }
    data |= overrides
    response = client.post(reverse("admin:content_casestudy_change", args=[case_study.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    return CaseStudy.all_objects.get(pk=case_study.pk)


def test_every_admin_save_stores_a_revision_with_its_inline_rows_and_who_made_it(editor_client):
    industry = IndustryFactory()
    response = editor_client.post(reverse("admin:content_casestudy_add"), _form(industry))
    assert response.status_code == 302
    case_study = CaseStudy.all_objects.get(slug="shelf-audit")
    _edit(editor_client, case_study, title="Shelf audit at 400 stores", **{"results-0-value": "98%"})

    versions = list(revision_list(case_study))
    assert [v.revision.comment for v in versions] == ["Changed title (case study results)", "Created"]
    assert {v.revision.user for v in versions} == {editor_client.editor}
    first = versions[-1]
    held = {v.content_type.model: v.object_repr for v in first.revision.version_set.all()}
    assert held == {"casestudy": "Shelf audit", "casestudyresult": "Accuracy: 95%"}


def test_actions_and_the_create_service_store_revisions_too():
    from content.services import service_create

    service = service_create(name="Labelling", slug="labelling", description="We label.", icon="tag")
    publishable_publish(instance=service, actor=None)
    assert [v.revision.comment for v in revision_list(service)] == ["Published", "Created"]


def test_compare_shows_each_field_and_the_inline_rows_side_by_side(editor_client):
    industry = IndustryFactory()
    editor_client.post(reverse("admin:content_casestudy_add"), _form(industry))
    case_study = CaseStudy.all_objects.get(slug="shelf-audit")
    _edit(
        editor_client,
        case_study,
        challenge="<p>Empty <b>shelves</b> in 400 stores.</p>",
        **{"results-0-value": "98%"},
    )
    newer, older = revision_list(case_study)[:2]

    changed = {d.label: (d.old, d.new) for d in revision_compare(older, newer) if d.changed}
    assert changed == {
        "Challenge": ("Empty shelves.", "Empty shelves in 400 stores."),
        "Case study results": ("Accuracy: 95%", "Accuracy: 98%"),
    }
    url = reverse("admin:content_casestudy_revision_compare", args=[case_study.pk])
    page = editor_client.get(url, {"version": [older.pk, newer.pk]}).content.decode()
    assert "Empty shelves in 400 stores." in page and "(changed)" in page
    # One revision is not a comparison: back to the history with a word why.
    response = editor_client.get(url, {"version": [older.pk]}, follow=True)
    assert "Choose two revisions to compare." in response.content.decode()
    assert editor_client.get(url, {"version": ["x", "y"]}).status_code == 302


def test_revert_restores_text_rows_and_links_keeps_the_state_and_is_audited(editor_client):
    industry = IndustryFactory()
    service = ServiceFactory(slug="labelling")
    editor_client.post(reverse("admin:content_casestudy_add"), _form(industry, services=[str(service.pk)]))
    case_study = CaseStudy.all_objects.get(slug="shelf-audit")
    original = revision_list(case_study).first()
    publishable_publish(instance=case_study, actor=editor_client.editor)
    changed = _edit(
        editor_client,
        case_study,
        challenge="<p>Rewritten.</p>",
        services=[],
        status="published",
        **{
            "results-TOTAL_FORMS": 2,
            "results-1-metric": "Speed",
            "results-1-value": "3x",
            "results-1-order": 1,
        },
    )
    assert changed.results.count() == 2 and changed.services.count() == 0

    url = reverse("admin:content_casestudy_revision_revert", args=[case_study.pk, original.pk])
    confirm = editor_client.get(url).content.decode()
    assert "Yes, revert" in confirm and "Rewritten." in confirm
    response = editor_client.post(url)
    assert response.status_code == 302

    reverted = CaseStudy.all_objects.get(pk=case_study.pk)
    assert reverted.challenge == "<p>Empty shelves.</p>"
    assert [(r.metric, r.value) for r in reverted.results.all()] == [("Accuracy", "95%")]
    assert list(reverted.services.all()) == [service]
    assert reverted.status == PublishStatus.PUBLISHED  # the state stays as it was before the revert
    assert revision_list(reverted).first().revision.comment.startswith("Reverted to the revision of")
    audit = AuditLog.objects.filter(action="content.reverted").get()
    assert audit.changes["revision"] == original.revision_id
    assert audit.actor_id == editor_client.editor.pk


def test_a_revert_to_a_slug_now_taken_is_refused_and_writes_nothing(editor_client):
    industry = IndustryFactory()
    editor_client.post(reverse("admin:content_casestudy_add"), _form(industry))
    case_study = CaseStudy.all_objects.get(slug="shelf-audit")
    original = revision_list(case_study).first()
    _edit(editor_client, case_study, slug="renamed", challenge="<p>New.</p>")
    CaseStudy.objects.create(
        title="Other", slug="shelf-audit", client="C", industry=industry, challenge="x", solution="y"
    )
    revisions_before = Revision.objects.count()

    url = reverse("admin:content_casestudy_revision_revert", args=[case_study.pk, original.pk])
    page = editor_client.post(url, follow=True).content.decode()
    assert "Not reverted: Another live item already uses this slug." in page
    stored = CaseStudy.all_objects.get(pk=case_study.pk)
    assert (stored.slug, stored.challenge) == ("renamed", "<p>New.</p>")
    assert Revision.objects.count() == revisions_before
    assert not AuditLog.objects.filter(action="content.reverted").exists()


def test_revert_needs_the_change_permission_and_a_revision_of_this_item():
    industry = IndustryFactory()
    row = CaseStudy.objects.create(
        title="T", slug="t", client="C", industry=industry, challenge="x", solution="y"
    )
    content_save(instance=row, actor=None, changed=["title"])
    version = revision_list(row).first()
    content_save(instance=row, actor=None, changed=["title"])
    client = Client()
    client.force_login(UserFactory(role=Role.USER))
    url = reverse("admin:content_casestudy_revision_revert", args=[row.pk, version.pk])
    assert client.post(url)["Location"].startswith("/admin/login/")
    assert revision_list(row).count() == 2
    editor = Client()
    editor.force_login(UserFactory(role=Role.EDITOR))
    other = ServiceFactory()
    content_save(instance=other, actor=None)
    foreign = reverse(
        "admin:content_casestudy_revision_revert", args=[row.pk, revision_list(other).first().pk]
    )
    assert editor.get(foreign).status_code == 404


def test_erasing_an_editor_leaves_their_revisions_without_a_name():
    from compliance.gdpr import user_anonymize, user_erase

    gone, anonymised = UserFactory(role=Role.EDITOR), UserFactory(role=Role.EDITOR)
    first, second = ServiceFactory(), ServiceFactory()
    content_save(instance=first, actor=gone)
    content_save(instance=second, actor=anonymised)
    user_erase(user=gone, actor=None, reason="admin")
    user_anonymize(user=anonymised)
    assert revision_list(first).first().revision.user is None
    author = revision_list(second).first().revision.user
    assert author.email.startswith("anonymized_") and author.name == ""


def test_retention_keeps_the_newest_revisions_of_each_item(settings):
    from compliance.retention import retention_apply

    settings.REVISIONS_KEEP = 3
    old, fresh = ServiceFactory(), ServiceFactory()
    for _ in range(5):
        content_save(instance=old, actor=None)
        content_save(instance=fresh, actor=None)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    Revision.objects.filter(version__object_id=str(old.pk)).update(date_created=long_ago)

    run = retention_apply(policies=["revisions"])
    assert run.results[0].done == 2
    assert Version.objects.get_for_object(old).count() == 3  # the newest three, old as they are
    assert Version.objects.get_for_object(fresh).count() == 5  # within the period: all kept
