from django.contrib import admin
from django_countries import countries
from django_countries.filters import CountryFilter

from common.admin import ReadOnlyAdmin
from content.admin_base import AuditedAdmin, CompactInline, IllustratedAdminMixin, PublishableAdmin

from .api.serializers import ImpactStorySerializer
from .models import ImpactMetric, ImpactStory, Location
from .selectors import impact_story_search


@admin.register(Location)
class LocationAdmin(AuditedAdmin):
    list_display = ["name", "region", "country"]
    # Country names, not the codes stored.
    list_filter = [("country", CountryFilter)]
    search_fields = ["name", "region"]


class StoryCountryFilter(admin.SimpleListFilter):
    """The countries stories are set in, by name."""

    title = "country"
    parameter_name = "country"

    def lookups(self, request, model_admin):
        codes = Location.objects.filter(stories__isnull=False).values_list("country", flat=True).distinct()
        return sorted(((code, countries.name(code)) for code in codes), key=lambda choice: choice[1])

    def queryset(self, request, queryset):
        return queryset.filter(location__country=self.value()) if self.value() else queryset


class ImpactMetricInline(CompactInline):
    model = ImpactMetric
    fields = ["metric_name", "value", "unit", "aggregation", "period_start", "period_end"]


@admin.register(ImpactStory)
class ImpactStoryAdmin(IllustratedAdminMixin, PublishableAdmin):
    list_display = ["title", "hero", "location", "people", "published"]
    list_filter = ["location", StoryCountryFilter]
    search_fields = ["title", "story"]
    prepopulated_fields = {"slug": ["title"]}
    list_select_related = ["location", "hero_image"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "location", "story", "beneficiaries"]}),
        IllustratedAdminMixin.pictures_fieldset,
        *PublishableAdmin.publishing_fieldsets,
    ]
    inlines = [ImpactMetricInline]
    preview_serializer = ImpactStorySerializer
    search_function = staticmethod(impact_story_search)

    @admin.display(description="People", ordering="beneficiaries")
    def people(self, obj):
        # "Beneficiaries" as a heading was the few pixels that pushed the list past a 1280 px screen.
        return obj.beneficiaries


@admin.register(ImpactMetric)
class ImpactMetricAdmin(ReadOnlyAdmin):
    """
    Every metric across stories, to check how each is aggregated in the impact summary. Read-only:
    metrics are edited with their story (whose save is audited), not here.
    """

    list_display = ["metric_name", "story", "value", "unit", "aggregation", "period_start", "period_end"]
    list_filter = ["aggregation", ("unit", admin.AllValuesFieldListFilter), "period_end"]
    search_fields = ["metric_name", "story__title"]
    list_select_related = ["story"]
