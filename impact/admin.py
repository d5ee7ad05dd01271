from django.contrib import admin

from common.admin import ReadOnlyAdmin
from content.admin_base import AuditedAdmin, PublishableAdmin

from .api.serializers import ImpactStorySerializer
from .models import ImpactMetric, ImpactStory, Location


@admin.register(Location)
class LocationAdmin(AuditedAdmin):
    list_display = ["name", "region", "country"]
    list_filter = ["country"]
    search_fields = ["name", "region"]


class ImpactMetricInline(admin.TabularInline):
    model = ImpactMetric
    extra = 1
    fields = ["metric_name", "value", "unit", "aggregation", "period_start", "period_end"]


@admin.register(ImpactStory)
class ImpactStoryAdmin(PublishableAdmin):
    list_display = ["title", "location", "beneficiaries", "published_at"]
    list_filter = ["status", "location", ("location__country", admin.AllValuesFieldListFilter)]
    search_fields = ["title", "story"]
    prepopulated_fields = {"slug": ["title"]}
    list_select_related = ["location"]
    fields = [
        "title",
        "slug",
        "location",
        "story",
        "beneficiaries",
        "status",
        "published_at",
        "state",
        "preview_link",
    ]
    inlines = [ImpactMetricInline]
    preview_serializer = ImpactStorySerializer


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
