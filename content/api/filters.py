import django_filters
from django.db.models import Exists, OuterRef

from content.models import CaseStudy, Service
from content.selectors import case_study_search


class CaseStudyFilterSet(django_filters.FilterSet):
    industry = django_filters.CharFilter(field_name="industry__slug", help_text="An industry slug.")
    service = django_filters.CharFilter(method="filter_service", help_text="A service slug.")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="Words in the title, client, challenge or solution; results best first unless `ordering` is given.",
    )
    ordering = django_filters.OrderingFilter(
        fields=(("published_at", "published_at"), ("title", "title")),
        help_text="published_at, -published_at, title or -title.",
    )

    class Meta:
        model = CaseStudy
        fields = ["industry", "service", "search"]

    def filter_service(self, queryset, name, value):
        # EXISTS rather than a join: no duplicate rows, so no DISTINCT to fight the ordering.
        linked = CaseStudy.services.through.objects.filter(
            casestudy_id=OuterRef("pk"), service__in=Service.objects.published().filter(slug=value)
        )
        return queryset.filter(Exists(linked))

    def filter_search(self, queryset, name, value):
        return case_study_search(queryset, value)
