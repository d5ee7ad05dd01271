import datetime

import factory
from django.utils import timezone

from common.models import PublishStatus
from content.models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    description = "What the service does."
    icon = "database"
    status = PublishStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))


class ServiceFeatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceFeature

    service = factory.SubFactory(ServiceFactory)
    title = factory.Sequence(lambda n: f"Feature {n}")


class IndustryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Industry
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Industry {n}")
    slug = factory.Sequence(lambda n: f"industry-{n}")


class CaseStudyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseStudy

    title = factory.Sequence(lambda n: f"Case study {n}")
    slug = factory.Sequence(lambda n: f"case-study-{n}")
    client = "A client"
    challenge = "The challenge."
    solution = "The solution."
    industry = factory.SubFactory(IndustryFactory)
    status = PublishStatus.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - datetime.timedelta(days=1))


class CaseStudyResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseStudyResult

    case_study = factory.SubFactory(CaseStudyFactory)
    metric = "Accuracy"
    value = "98%"
