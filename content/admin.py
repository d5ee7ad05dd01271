from django.contrib import admin

from .models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature


class ServiceFeatureInline(admin.TabularInline):
    model = ServiceFeature
    extra = 0


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "published_at", "order"]
    list_filter = ["status"]
    search_fields = ["name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceFeatureInline]


@admin.register(Industry)
class IndustryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class CaseStudyResultInline(admin.TabularInline):
    model = CaseStudyResult
    extra = 0


@admin.register(CaseStudy)
class CaseStudyAdmin(admin.ModelAdmin):
    list_display = ["title", "client", "industry", "status", "published_at"]
    list_filter = ["status", "industry"]
    search_fields = ["title", "client"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["services"]
    list_select_related = ["industry"]
    inlines = [CaseStudyResultInline]
