import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.models import PublishStatus
from content.models import CaseStudy, Service
from content.services import service_create

from .factories import CaseStudyFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_soft_deleted_rows_are_hidden_by_default_and_seen_by_all_objects():
    service = ServiceFactory(slug="gone")
    Service.objects.filter(pk=service.pk).update(deleted_at=timezone.now())
    assert not Service.objects.filter(slug="gone").exists()
    assert Service.all_objects.get(slug="gone").is_deleted


def test_slug_is_unique_among_live_rows():
    ServiceFactory(slug="annotation")
    duplicate = Service(name="Other", slug="annotation", description="x", icon="database")
    with pytest.raises(ValidationError) as error:
        duplicate.full_clean()
    assert "Another live item already uses this slug." in str(error.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        Service.objects.bulk_create([duplicate])


def test_deleted_row_frees_its_slug():
    old = CaseStudyFactory(slug="retail")
    CaseStudy.objects.filter(pk=old.pk).update(deleted_at=timezone.now())
    new = CaseStudyFactory(slug="retail")
    new.full_clean()
    assert CaseStudy.all_objects.filter(slug="retail").count() == 2
    assert CaseStudy.objects.get(slug="retail").pk == new.pk


def test_icon_outside_known_set_is_refused_and_nothing_saved():
    with pytest.raises(ValidationError) as error:
        service_create(name="Bad", slug="bad", description="x", icon="skull")
    assert "icon" in error.value.message_dict
    assert not Service.all_objects.filter(slug="bad").exists()


def test_published_excludes_drafts_scheduled_and_deleted():
    now = timezone.now()
    live = ServiceFactory(slug="live")
    ServiceFactory(slug="draft", status=PublishStatus.DRAFT, published_at=None)
    ServiceFactory(slug="scheduled", published_at=now + datetime.timedelta(hours=1))
    deleted = ServiceFactory(slug="deleted")
    Service.objects.filter(pk=deleted.pk).update(deleted_at=now)
    assert list(Service.objects.published()) == [live]
    # The scheduled row goes live when its time comes, without anyone saving it.
    later = now + datetime.timedelta(hours=2)
    assert {s.slug for s in Service.objects.published(at=later)} == {"live", "scheduled"}


def test_publish_state_names_each_state():
    now = timezone.now()
    assert ServiceFactory().publish_state == "published"
    assert ServiceFactory(status=PublishStatus.DRAFT).publish_state == "draft"
    assert ServiceFactory(published_at=now + datetime.timedelta(days=1)).publish_state == "scheduled"


def test_service_create_saves_ordered_features_and_audits():
    from audit.models import AuditLog

    service = service_create(
        name="Labelling",
        slug="labelling",
        description="x",
        icon="tag",
        features=[{"title": "Boxes"}, {"title": "Polygons"}],
        publish=True,
    )
    assert [f.title for f in service.features.all()] == ["Boxes", "Polygons"]
    assert service.publish_state == "published"
    assert AuditLog.objects.filter(action="content.created", entity_id=str(service.pk)).count() == 1
