from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .admin_base import AuditedAdmin, CompactInline, PublishableAdmin
from .api.serializers import CaseStudySerializer, ServiceSerializer
from .models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature, SlugRedirect
from .selectors import case_study_search


class ServiceFeatureInline(CompactInline):
    model = ServiceFeature
    fields = ["title", "description", "order"]
    ordering = ["order", "title"]


@admin.register(Service)
class ServiceAdmin(PublishableAdmin):
    list_display = ["name", "slug", "order", "published_at"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "icon", "order"]}),
        *PublishableAdmin.publishing_fieldsets,
    ]
    inlines = [ServiceFeatureInline]
    preview_serializer = ServiceSerializer


@admin.register(Industry)
class IndustryAdmin(AuditedAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


class CaseStudyResultInline(CompactInline):
    model = CaseStudyResult
    fields = ["metric", "value", "description", "order"]
    ordering = ["order", "created_at"]


@admin.register(CaseStudy)
class CaseStudyAdmin(PublishableAdmin):
    list_display = ["title", "client", "industry", "published_at"]
    list_filter = ["industry"]
    search_fields = ["title", "client", "challenge", "solution"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["services"]
    list_select_related = ["industry"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "client", "industry", "services", "challenge", "solution"]}),
        *PublishableAdmin.publishing_fieldsets,
    ]
    inlines = [CaseStudyResultInline]
    preview_serializer = CaseStudySerializer
    search_function = staticmethod(case_study_search)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "services":
            # Trashed services cannot be chosen; drafts can, and show once they are published.
            kwargs["queryset"] = Service.objects.order_by("order", "name")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(SlugRedirect)
class SlugRedirectAdmin(ReadOnlyAdmin):
    """Old slugs that answer with a redirect to their row's current slug (content.publishing keeps them)."""

    list_display = ["old_slug", "model", "object_id", "created_at"]
    list_filter = ["model"]
    search_fields = ["old_slug"]
