from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyAdmin

from .admin_base import AuditedAdmin, CompactInline, IllustratedAdminMixin, PublishableAdmin, thumbnail
from .api.serializers import CaseStudySerializer, ServiceSerializer
from .models import CaseStudy, CaseStudyResult, Digest, Image, Industry, Service, ServiceFeature, SlugRedirect
from .selectors import case_study_search
from .services import image_delete, image_renditions_enqueue, image_save, image_upload_prepare


class ImageForm(forms.ModelForm):
    upload = forms.FileField(
        required=False,
        label="Picture",
        help_text="PNG or JPEG. It is checked (kind, size, pixels, viruses) before it is kept; the site shows "
        "copies made from its pixels alone, without the camera's or the place's metadata.",
    )

    class Meta:
        model = Image
        fields = ["upload", "alt_text", "credit", "focal_x", "focal_y"]

    def clean_upload(self):
        upload = self.cleaned_data.get("upload")
        if upload is None:
            if self.instance._state.adding:
                raise forms.ValidationError("Choose a picture to upload.")
            return None
        return image_upload_prepare(upload)


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    """The media library: pictures with their alt text, checked on upload, shown through renditions."""

    form = ImageForm
    list_display = ["preview", "alt_text", "credit", "dimensions", "state", "created_at"]
    list_display_links = ["preview", "alt_text"]
    list_filter = ["state"]
    search_fields = ["alt_text", "credit"]
    readonly_fields = ["large_preview", "dimensions", "state", "error", "rendition_links", "uploaded_by"]
    actions = ["renditions_remake"]

    @admin.action(description="Make the renditions again (a picture stuck or failed)")
    def renditions_remake(self, request, queryset):
        queued = sum(image_renditions_enqueue(image.pk) for image in queryset)
        if queued:
            self.message_user(request, f"Renditions queued for {queued} picture(s).", messages.SUCCESS)
        if queued < queryset.count():
            self.message_user(request, "The task queue cannot be reached; try again shortly.", messages.ERROR)

    def get_fields(self, request, obj=None):
        fields = ["upload", "alt_text", "credit", "focal_x", "focal_y"]
        return (
            fields
            if obj is None
            else ["large_preview", *fields, "dimensions", "state", "error", "rendition_links"]
        )

    @admin.display(description="Picture")
    def preview(self, obj):
        return thumbnail(obj)

    @admin.display(description="Picture as shown")
    def large_preview(self, obj):
        return thumbnail(obj, width=400)

    @admin.display(description="Size")
    def dimensions(self, obj):
        return f"{obj.width} × {obj.height} px, {obj.size / 1e6:.1f} MB" if obj.width else "—"

    @admin.display(description="Renditions")
    def rendition_links(self, obj):
        storage = Image.public_storage()
        rows = (
            (storage.url(r["name"]), r["width"], r["height"], r["format"].upper()) for r in obj.renditions
        )
        return format_html_join(format_html("<br>"), '<a href="{}">{} × {} {}</a>', rows) or "—"

    def save_model(self, request, obj, form, change):
        image_save(image=obj, actor=request.user, prepared=form.cleaned_data.get("upload"))

    def delete_model(self, request, obj):
        image_delete(image=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            image_delete(image=obj, actor=request.user)


class ServiceFeatureInline(CompactInline):
    model = ServiceFeature
    fields = ["title", "description", "order"]
    ordering = ["order", "title"]


@admin.register(Service)
class ServiceAdmin(PublishableAdmin):
    list_display = ["name", "icon_preview", "slug", "order", "published"]
    list_select_related = ["icon_image"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["icon_image"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "icon", "icon_image", "order"]}),
        *PublishableAdmin.publishing_fieldsets,
    ]
    inlines = [ServiceFeatureInline]
    preview_serializer = ServiceSerializer

    @admin.display(description="Icon")
    def icon_preview(self, obj):
        return thumbnail(obj.icon_image, width=32)


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
class CaseStudyAdmin(IllustratedAdminMixin, PublishableAdmin):
    list_display = ["title", "hero", "client", "industry", "published"]
    list_filter = ["industry"]
    search_fields = ["title", "client", "challenge", "solution"]
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["services"]
    list_select_related = ["industry", "hero_image"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "client", "industry", "services", "challenge", "solution"]}),
        IllustratedAdminMixin.pictures_fieldset,
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


@admin.register(Digest)
class DigestAdmin(ReadOnlyAdmin):
    """The case-study digests sent (content.digest): what each listed and how many it reached."""

    list_display = ["window_end", "window_start", "case_study_count", "delivery_count"]
    fields = ["window_start", "window_end", "case_studies"]
    readonly_fields = fields
    date_hierarchy = "window_end"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                case_study_total=Count("case_studies", distinct=True),
                delivery_total=Count("deliveries", distinct=True),
            )
        )

    @admin.display(description="Case studies", ordering="case_study_total")
    def case_study_count(self, obj):
        return obj.case_study_total

    @admin.display(description="Mails sent", ordering="delivery_total")
    def delivery_count(self, obj):
        return obj.delivery_total
