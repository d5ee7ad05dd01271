import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.models import PublishStatus
from content.models import CaseStudy, Industry, Service

from .factories import CaseStudyFactory, IndustryFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client():
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    return client


def _act(client, model, action, *objs, **query):
    url = reverse(f"admin:content_{model}_changelist")
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, {"action": action, "_selected_action": [str(o.pk) for o in objs]}, follow=True)


def test_editor_creates_a_service_with_features_through_the_form(editor_client):
    response = editor_client.post(
        reverse("admin:content_service_add"),
        {
            "name": "Speech Data",
            "slug": "speech-data",
            "description": "Voice recordings.",
            "icon": "database",
            "order": 5,
            "status": "draft",
            "features-TOTAL_FORMS": 2,
            "features-INITIAL_FORMS": 0,
            "features-0-title": "Accents",
            "features-0-order": 0,
            "features-1-title": "Transcripts",
            "features-1-order": 1,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    service = Service.objects.get(slug="speech-data")
    assert [f.title for f in service.features.order_by("order")] == ["Accents", "Transcripts"]
    assert AuditLog.objects.filter(action="content.created", entity_id=str(service.pk)).exists()


def test_a_bad_icon_and_a_duplicate_slug_get_plain_words(editor_client):
    ServiceFactory(slug="taken")
    response = editor_client.post(
        reverse("admin:content_service_add"),
        {
            "name": "X",
            "slug": "taken",
            "description": "x",
            "icon": "skull",
            "order": 0,
            "status": "draft",
            "features-TOTAL_FORMS": 0,
            "features-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Choose one of the listed icons" in text or "Select a valid choice" in text
    assert "Another live item already uses this slug." in text
    assert Service.all_objects.filter(slug="taken").count() == 1


def test_publish_unpublish_trash_restore_actions_are_audited(editor_client):
    service = ServiceFactory(status=PublishStatus.DRAFT, published_at=None)
    _act(editor_client, "service", "publish", service)
    service.refresh_from_db()
    assert service.publish_state == "published"
    _act(editor_client, "service", "unpublish", service)
    service.refresh_from_db()
    assert service.publish_state == "draft"
    _act(editor_client, "service", "move_to_trash", service)
    assert not Service.objects.filter(pk=service.pk).exists()
    _act(editor_client, "service", "restore", service, trash="only")
    assert Service.objects.filter(pk=service.pk).exists()
    actions = list(
        AuditLog.objects.filter(entity_id=str(service.pk))
        .order_by("created_at")
        .values_list("action", flat=True)
    )
    assert actions[-4:] == ["content.published", "content.unpublished", "content.trashed", "content.restored"]


def test_trash_is_hidden_by_default_and_shown_by_the_filter(editor_client):
    CaseStudyFactory(title="Visible study")
    gone = CaseStudyFactory(title="Trashed study")
    _act(editor_client, "casestudy", "move_to_trash", gone)
    url = reverse("admin:content_casestudy_changelist")
    default = editor_client.get(url).content.decode()
    assert "Visible study" in default and "Trashed study" not in default
    only = editor_client.get(url + "?trash=only").content.decode()
    assert "Trashed study" in only and "Visible study" not in only
    assert "In trash" in only


def test_restore_refuses_when_the_slug_is_taken_again(editor_client):
    old = CaseStudyFactory(slug="retail")
    _act(editor_client, "casestudy", "move_to_trash", old)
    CaseStudyFactory(slug="retail")
    response = _act(editor_client, "casestudy", "restore", old, trash="only")
    assert "cannot be restored" in response.content.decode()
    assert CaseStudy.all_objects.get(pk=old.pk).deleted_at is not None


def test_only_admins_delete_for_good(editor_client, admin_client):
    service = ServiceFactory()
    changelist = reverse("admin:content_service_changelist")
    assert 'value="delete_selected"' not in editor_client.get(changelist).content.decode()
    assert editor_client.post(reverse("admin:content_service_delete", args=[service.pk])).status_code == 403
    assert Service.objects.filter(pk=service.pk).exists()

    assert 'value="delete_selected"' in admin_client.get(changelist).content.decode()
    admin_client.post(reverse("admin:content_service_delete", args=[service.pk]), {"post": "yes"})
    assert not Service.all_objects.filter(pk=service.pk).exists()
    assert AuditLog.objects.filter(action="content.deleted", entity_id=str(service.pk)).exists()


def test_scheduled_rows_show_as_scheduled(editor_client):
    import datetime

    from django.utils import timezone

    ServiceFactory(name="Later", published_at=timezone.now() + datetime.timedelta(days=3))
    text = editor_client.get(reverse("admin:content_service_changelist")).content.decode()
    assert "Scheduled for" in text


def test_preview_shows_a_draft_as_the_api_would(editor_client, client):
    service = ServiceFactory(name="Hidden draft", slug="hidden-draft", status=PublishStatus.DRAFT)
    response = editor_client.get(reverse("admin:content_service_preview", args=[service.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    assert "&quot;slug&quot;: &quot;hidden-draft&quot;" in text and "Draft" in text
    client.logout()
    assert client.get(reverse("admin:content_service_preview", args=[service.pk])).status_code == 302


def test_editor_sees_content_and_impact_but_not_people_or_logs(editor_client):
    index = editor_client.get(reverse("admin:index")).content.decode()
    assert "Services" in index and "Impact stories" in index
    for name in ("Form submissions", "Users", "Audit log", "Sample-data uploads"):
        assert name not in index
    for url in (
        reverse("admin:submissions_formsubmission_changelist"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:audit_auditlog_changelist"),
        reverse("admin:uploads_fileupload_changelist"),
    ):
        assert editor_client.get(url).status_code == 403


def test_editor_deletes_of_industries_are_audited_single_and_bulk(editor_client):
    single, first, second, kept = IndustryFactory.create_batch(4)

    response = editor_client.post(reverse("admin:content_industry_delete", args=[single.pk]), {"post": "yes"})
    assert response.status_code == 302
    response = editor_client.post(
        reverse("admin:content_industry_changelist"),
        {"action": "delete_selected", "_selected_action": [str(first.pk), str(second.pk)], "post": "yes"},
    )
    assert response.status_code == 302

    assert list(Industry.objects.values_list("pk", flat=True)) == [kept.pk]
    rows = AuditLog.objects.filter(action="content.deleted", entity_type="content.industry")
    assert {(row.entity_id, row.changes["name"], row.actor.role) for row in rows} == {
        (str(industry.pk), industry.name, Role.EDITOR) for industry in (single, first, second)
    }
