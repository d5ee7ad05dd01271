from django.contrib import admin

from .admin_base import AuditedAdmin, PublishableAdmin
from .api.serializers import CaseStudySerializer, ServiceSerializer
from .models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature


class ServiceFeatureInline(admin.TabularInline):
    model = ServiceFeature
    extra = 1
    fields = ["title", "description", "order"]
    ordering = ["order", "title"]


@admin.register(Service)
class ServiceAdmin(PublishableAdmin):
    list_display = ["name", "slug", "order", "published_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "description",
        "icon",
        "order",
        "status",
        "published_at",
        "state",
        "preview_link",
    ]
    inlines = [ServiceFeatureInline]
    preview_serializer = ServiceSerializer


@admin.register(Industry)
class IndustryAdmin(AuditedAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class CaseStudyResultInline(admin.TabularInline):
    model = CaseStudyResult
    extra = 1
    fields = ["metric", "value", "description"]


@admin.register(CaseStudy)
class CaseStudyAdmin(PublishableAdmin):
    list_display = ["title", "client", "industry", "published_at"]
    list_filter = ["status", "industry"]
    search_fields = ["title", "client", "challenge", "solution"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["services"]
    list_select_related = ["industry"]
    fields = [
        "title",
        "slug",
        "client",
        "industry",
        "services",
        "challenge",
        "solution",
        "status",
        "published_at",
        "state",
        "preview_link",
    ]
    inlines = [CaseStudyResultInline]
    preview_serializer = CaseStudySerializer

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "services":
            # Trashed services cannot be chosen; drafts can, and show once they are published.
            kwargs["queryset"] = Service.objects.order_by("order", "name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)
