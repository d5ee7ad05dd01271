from django.contrib import admin

from .models import ImpactMetric, ImpactStory, Location


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "country"]
    list_filter = ["country"]
    search_fields = ["name", "region"]


class ImpactMetricInline(admin.TabularInline):
    model = ImpactMetric
    extra = 0


@admin.register(ImpactStory)
class ImpactStoryAdmin(admin.ModelAdmin):
    list_display = ["title", "location", "beneficiaries", "status", "published_at"]
    list_filter = ["status", "location"]
    search_fields = ["title", "story"]
    prepopulated_fields = {"slug": ["title"]}
    list_select_related = ["location"]
    inlines = [ImpactMetricInline]
