from django.db.models import Prefetch, QuerySet

from .models import CaseStudy, Industry, Service, ServiceFeature


def _published_services() -> QuerySet[Service]:
    # A case study must never reveal a service that is not public itself.
    return Service.objects.published().only("id", "name", "slug", "icon").order_by("order", "name")


def service_list() -> QuerySet[Service]:
    return Service.objects.published().prefetch_related(
        Prefetch("features", queryset=ServiceFeature.objects.order_by("order", "title"))
    )


def industry_list() -> QuerySet[Industry]:
    return Industry.objects.order_by("name")


def case_study_list() -> QuerySet[CaseStudy]:
    return (
        CaseStudy.objects.published()
        .select_related("industry")
        .prefetch_related("results", Prefetch("services", queryset=_published_services()))
    )
