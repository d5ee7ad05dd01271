import django_filters

from impact.models import ImpactStory
from impact.selectors import impact_story_search


class ImpactStoryFilterSet(django_filters.FilterSet):
    location = django_filters.UUIDFilter(field_name="location_id", help_text="A location id.")
    country = django_filters.CharFilter(
        field_name="location__country",
        max_length=2,
        help_text="ISO 3166 alpha-2, e.g. IN.",
        method="filter_country",
    )
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        help_text="Words in the title or story; results best first unless `ordering` is given.",
    )
    ordering = django_filters.OrderingFilter(
        fields=(("published_at", "published_at"), ("title", "title"), ("beneficiaries", "beneficiaries")),
    )

    class Meta:
        model = ImpactStory
        fields = ["location", "country", "search"]

    def filter_country(self, queryset, name, value):
        return queryset.filter(location__country=value.upper())

    def filter_search(self, queryset, name, value):
        return impact_story_search(queryset, value)
