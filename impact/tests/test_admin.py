import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from impact.models import ImpactStory, Location

from .factories import ImpactMetricFactory, ImpactStoryFactory, LocationFactory

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
            "metrics-0-aggregation": "sum",
            "metrics-0-period_start": "2025-03-31",
            "metrics-0-period_end": "2024-04-01",
        },
    )
    assert response.status_code == 200
    # On the field that is wrong, in its row of the inline, not atop the form.
    metric_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert metric_form.errors == {"period_end": ["The period must end after it starts."]}
    assert metric_form.non_field_errors() == []
    assert not ImpactStory.all_objects.exists()


def test_stories_filter_by_country_shown_by_name():
    india = ImpactStoryFactory(title="Weavers of Mysuru", location=LocationFactory(country="IN"))
    kenya = ImpactStoryFactory(title="Annotators of Nairobi", location=LocationFactory(country="KE"))
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    url = reverse("admin:impact_impactstory_changelist")
    page = client.get(url).content.decode()
    assert ">India</a>" in page and ">Kenya</a>" in page
    assert ">IN</a>" not in page

    shown = client.get(url + "?country=KE").context["cl"].result_list
    assert list(shown) == [kenya]
    assert india not in client.get(url + "?country=KE").context["cl"].result_list


def test_locations_filter_by_country_shown_by_name():
    LocationFactory(country="IN")
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    page = client.get(reverse("admin:impact_location_changelist")).content.decode()
    assert ">India</a>" in page
    assert ">IN</a>" not in page


def test_metrics_show_and_filter_by_aggregation():
    jobs = ImpactMetricFactory(metric_name="Jobs created", unit="people", aggregation="sum")
    ImpactMetricFactory(metric_name="Women employed", unit="%", aggregation="average")
    ImpactMetricFactory(metric_name="Income uplift", unit="x", aggregation="latest")
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    url = reverse("admin:impact_impactmetric_changelist")

    everything = client.get(url).content.decode()
    averaged = client.get(url + "?aggregation=average").content.decode()
    story_page = client.get(reverse("admin:impact_impactstory_change", args=[jobs.story.pk])).content.decode()

    assert all(name in everything for name in ("Jobs created", "Women employed", "Income uplift"))
    assert "Average (rates and multipliers over the period)" in everything
    assert "Women employed" in averaged and "Jobs created" not in averaged and "Income uplift" not in averaged
    assert 'name="metrics-0-aggregation"' in story_page
    assert client.get(reverse("admin:impact_impactmetric_change", args=[jobs.pk])).status_code == 200
    assert client.post(reverse("admin:impact_impactmetric_delete", args=[jobs.pk])).status_code == 403


def test_a_percentage_summed_in_the_story_form_is_refused_in_plain_words():
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    response = client.post(
        reverse("admin:impact_impactstory_add"),
        {
            "title": "Story",
            "slug": "story",
            "location": str(LocationFactory().pk),
            "story": "Text",
            "beneficiaries": 10,
            "status": "draft",
            "metrics-TOTAL_FORMS": 1,
            "metrics-INITIAL_FORMS": 0,
            "metrics-0-metric_name": "Women employed",
            "metrics-0-value": "61",
            "metrics-0-unit": "%",
            "metrics-0-aggregation": "sum",
            "metrics-0-period_start": "2024-04-01",
            "metrics-0-period_end": "2025-03-31",
        },
    )
    assert response.status_code == 200
    assert (
        "A percentage or a multiplier cannot be added up: choose average or latest."
        in response.content.decode()
    )
    assert not ImpactStory.all_objects.exists()


def test_editor_deletes_of_locations_are_audited_single_and_bulk():
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    single, first, second, kept = LocationFactory.create_batch(4)

    response = client.post(reverse("admin:impact_location_delete", args=[single.pk]), {"post": "yes"})
    assert response.status_code == 302
    response = client.post(
        reverse("admin:impact_location_changelist"),
        {"action": "delete_selected", "_selected_action": [str(first.pk), str(second.pk)], "post": "yes"},
    )
    assert response.status_code == 302

    assert list(Location.objects.values_list("pk", flat=True)) == [kept.pk]
    rows = AuditLog.objects.filter(action="content.deleted", entity_type="impact.location")
    assert {(row.entity_id, row.changes["name"], row.actor.role) for row in rows} == {
        (str(location.pk), str(location), Role.EDITOR) for location in (single, first, second)
    }
