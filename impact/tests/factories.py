import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from common.models import PublishStatus
from impact.models import ImpactMetric, ImpactStory, Location


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Village {n}")
    region = "Karnataka"
    country = "IN"


class ImpactStoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImpactStory

    title = factory.Sequence(lambda n: f"Story {n}")
    slug = factory.Sequence(lambda n: f"story-{n}")
    story = "What changed."
    beneficiaries = 100
    location = factory.SubFactory(LocationFactory)
    status = PublishStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))


class ImpactMetricFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImpactMetric

    story = factory.SubFactory(ImpactStoryFactory)
    metric_name = "Jobs created"
    value = Decimal("10")
    unit = "people"
    period_start = datetime.date(2024, 4, 1)
    period_end = datetime.date(2025, 3, 31)
