import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from impact.models import ImpactMetric

from .factories import ImpactMetricFactory, ImpactStoryFactory

pytestmark = pytest.mark.django_db


def test_period_that_ends_before_it_starts_is_refused():
    story = ImpactStoryFactory()
    metric = ImpactMetric(
        story=story,
        metric_name="Jobs",
        value=5,
        period_start=datetime.date(2025, 3, 31),
        period_end=datetime.date(2024, 4, 1),
    )
    with pytest.raises(ValidationError) as error:
        metric.full_clean()
    assert "The period must end after it starts." in str(error.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        ImpactMetric.objects.bulk_create([metric])
    assert not ImpactMetric.objects.exists()


def test_same_day_period_is_refused_and_a_real_period_accepted():
    day = datetime.date(2025, 1, 1)
    with pytest.raises(ValidationError):
        ImpactMetricFactory.build(story=ImpactStoryFactory(), period_start=day, period_end=day).full_clean()
    metric = ImpactMetricFactory()
    metric.full_clean()
    assert metric.period_end > metric.period_start


@pytest.mark.parametrize("unit", ["%", "x", "×"])
def test_a_rate_or_multiplier_cannot_be_added_up(unit):
    metric = ImpactMetricFactory.build(story=ImpactStoryFactory(), unit=unit, aggregation="sum")
    with pytest.raises(ValidationError) as error:
        metric.full_clean()
    assert "A percentage or a multiplier cannot be added up: choose average or latest." in str(error.value)
    with pytest.raises(IntegrityError), transaction.atomic():
        ImpactMetric.objects.bulk_create([metric])
    metric.aggregation = "average"
    metric.full_clean()


def test_metrics_default_to_sum():
    assert ImpactMetricFactory(unit="people").aggregation == ImpactMetric.Aggregation.SUM == "sum"
