import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from accounts.tests.factories import UserFactory
from impact.models import ImpactStory

from .factories import LocationFactory

pytestmark = pytest.mark.django_db


def test_a_metric_period_that_ends_before_it_starts_is_refused_in_plain_words():
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    location = LocationFactory()
    response = client.post(
        reverse("admin:impact_impactstory_add"),
        {
            "title": "Story",
            "slug": "story",
            "location": str(location.pk),
            "story": "Text",
            "beneficiaries": 10,
            "status": "draft",
            "metrics-TOTAL_FORMS": 1,
            "metrics-INITIAL_FORMS": 0,
            "metrics-0-metric_name": "Jobs",
            "metrics-0-value": "5",
            "metrics-0-unit": "people",
            "metrics-0-period_start": "2025-03-31",
            "metrics-0-period_end": "2024-04-01",
        },
    )
    assert response.status_code == 200
    assert "The period must end after it starts." in response.content.decode()
    assert not ImpactStory.all_objects.exists()


def test_stories_filter_by_location_and_country():
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    response = client.get(reverse("admin:impact_impactstory_changelist") + "?location__country=IN")
    assert response.status_code == 200
