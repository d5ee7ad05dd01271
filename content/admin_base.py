"""
The admin that content and impact share: every save and delete through content.publishing (audited),
and for publishable rows the state column, publishing actions, trash and API preview.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from common.models import PublishStatus

from .admin_revisions import RevisionsAdminMixin
from .publishing import (
    content_delete,
    content_save,
    publishable_publish,
    publishable_restore,
    publishable_trash,
    publishable_unpublish,
)
from .revisions import editor_time


def thumbnail(image, width: int = 64) -> str:
    """An image of the library as a small picture (its narrowest JPEG rendition), or why there is none."""
    if image is None:
        return "—"
    if image.state != "ready" or not image.renditions:
        return image.get_state_display()
    smallest = min((r for r in image.renditions if r["format"] == "jpeg"), key=lambda r: r["width"])
    height = round(smallest["height"] * width / smallest["width"])
    url = image.public_storage().url(smallest["name"])
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" loading="lazy">', url, image.alt_text, width, height
    )


class IllustratedAdminMixin:
    """The hero image and gallery of a case study or story: picked by alt text, the hero shown."""

    autocomplete_fields = ["hero_image", "gallery"]
    pictures_fieldset = ("Pictures", {"fields": ["hero_image", "hero_preview", "gallery"]})

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "hero_preview"]

    @admin.display(description="Picture")
    def hero(self, obj):
        return thumbnail(obj.hero_image)

    @admin.display(description="Hero as shown")
    def hero_preview(self, obj):
        return thumbnail(obj.hero_image, width=240)


class AuditedAdmin(admin.ModelAdmin):
    """
    Content rows (industries, locations, and through PublishableAdmin the publishable ones): every save
    and every delete, single or the bulk "delete selected" action, goes through content.publishing and
    leaves an audit row.
    """

    def save_model(self, request, obj, form, change):
        content_save(instance=obj, actor=request.user, changed=form.changed_data if change else None)

    def delete_model(self, request, obj):
        content_delete(instance=obj, actor=request.user)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for obj in queryset:
            content_delete(instance=obj, actor=request.user)


class CompactInline(admin.TabularInline):
    """
    A tabular inline whose text areas and numbers are sized to their column: the admin's default
    40 × 10 text area pushed the case study form past 1,600 px wide.
    """

    extra = 1

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if isinstance(db_field, models.TextField):
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 30})
        elif isinstance(db_field, (models.IntegerField, models.DecimalField)):
            kwargs["widget"] = forms.NumberInput(attrs={"style": "width: 5.5em"})
        elif isinstance(db_field, models.CharField) and db_field.choices:
            # A choice's long label is read in full once the list is open.
            kwargs["widget"] = forms.Select(attrs={"style": "width: 9em"})
        elif isinstance(db_field, models.CharField):
            kwargs["widget"] = forms.TextInput(attrs={"style": "width: 9em"})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class TrashFilter(admin.SimpleListFilter):
    """Trashed rows are hidden unless asked for."""

    title = "trash"
    parameter_name = "trash"

    def lookups(self, request, model_admin):
        return [("only", "In trash"), ("all", "Live and trash")]

    def choices(self, changelist):
        # "Live only" stands where SimpleListFilter would put "All": it is the default.
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live only",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "only":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class StateFilter(admin.SimpleListFilter):
    """Where a row stands for the public: live, waiting for its time, past its expiry, or a draft."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("published", "Published (on the site)"),
            ("scheduled", "Scheduled"),
            ("expired", "Expired"),
            ("draft", "Draft"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "published":
            return queryset.published(at=now)
        if self.value() == "scheduled":
            return queryset.scheduled(at=now)
        if self.value() == "expired":
            return queryset.expired(at=now)
        if self.value() == "draft":
            return queryset.exclude(status=PublishStatus.PUBLISHED)
        return queryset


class PublishableAdmin(RevisionsAdminMixin, AuditedAdmin):
    """
    Writes go through content.publishing (audited). Editors publish, unpublish and move to the trash;
    only admins delete for good. `preview_serializer` is the API serializer a preview renders with;
    `search_function` the selector that searches the rows (content.search), as the public API does.
    """

    preview_serializer = None
    search_function = None
    actions = ["publish", "unpublish", "move_to_trash", "restore"]
    # The fieldsets every publishable form ends with; a subclass lists its own fields before them.
    publishing_fieldsets = [
        ("Publishing", {"fields": ["status", "published_at", "expires_at", "state", "preview_link"]}),
        (
            "Search engines",
            {
                "fields": ["meta_title", "meta_description"],
                "classes": ["collapse"],
                "description": "How the page appears in search results. Empty: the title and the start of "
                "the text.",
            },
        ),
    ]

    def get_queryset(self, request):
        # The trash filter decides what is shown; the admin itself sees every row.
        return self.model.all_objects.get_queryset()

    def get_list_filter(self, request):
        return [StateFilter, *super().get_list_filter(request), TrashFilter]

    def get_list_display(self, request):
        # The state first: it is what an editor scans a list for. The API preview is on the form only:
        # as a column it pushed the list past the width of a 1280 px screen.
        return ["state", *super().get_list_display(request)]

    def get_list_display_links(self, request, list_display):
        # The row's name links to its form, not the state column that now comes first.
        return [list_display[1]]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "state", "preview_link"]

    def get_search_results(self, request, queryset, search_term):
        if self.search_function is None or not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        return self.search_function(queryset, search_term), False

    @admin.display(description="Published", ordering="published_at")
    def published(self, obj):
        # The day only, in the editors' time zone: Django's "Dec. 4, 2026, 3:18 p.m." took two lines.
        return timezone.localtime(obj.published_at).strftime("%d %b %Y") if obj.published_at else "—"

    @admin.display(description="State")
    def state(self, obj):
        state = obj.publish_state if obj.pk else "draft"
        if state == "scheduled":
            return format_html("Scheduled for {}", editor_time(obj.published_at))
        if state == "expired":
            return format_html("Expired on {}", editor_time(obj.expires_at))
        if state == "published" and obj.expires_at:
            return format_html("Published until {}", editor_time(obj.expires_at))
        return {"published": "Published", "draft": "Draft", "deleted": "In trash"}[state]

    @admin.display(description="Preview")
    def preview_link(self, obj):
        if not obj.pk or self.preview_serializer is None:
            return "-"
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_preview", args=[obj.pk])
        return format_html('<a href="{}">As the API returns it</a>', url)

    # --- Deleting: the trash for everyone, deleting for good for admins only ---------------------------

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.pop("delete_selected", None)
        return actions

    # --- Actions -------------------------------------------------------------------------------------

    def _apply(self, request, queryset, service, done: str, permission: str = "change"):
        if not getattr(self, f"has_{permission}_permission")(request):
            raise PermissionDenied
        count, refused = 0, []
        for obj in queryset:
            try:
                service(instance=obj, actor=request.user)
                count += 1
            except ValidationError as error:
                refused.append(" ".join(error.messages))
        name = self.model._meta.verbose_name if count == 1 else self.model._meta.verbose_name_plural
        if count:
            self.message_user(request, f"{count} {name} {done}.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.ERROR)

    @admin.action(description="Publish selected (now, or at their scheduled time)")
    def publish(self, request, queryset):
        self._apply(request, queryset, publishable_publish, "published")

    @admin.action(description="Unpublish selected (back to draft)")
    def unpublish(self, request, queryset):
        self._apply(request, queryset, publishable_unpublish, "unpublished")

    @admin.action(description="Move selected to the trash")
    def move_to_trash(self, request, queryset):
        self._apply(request, queryset, publishable_trash, "moved to the trash")

    @admin.action(description="Restore selected from the trash")
    def restore(self, request, queryset):
        self._apply(request, queryset, publishable_restore, "restored")

    # --- Preview -------------------------------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        preview = path(
            "<path:object_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name=f"{opts.app_label}_{opts.model_name}_preview",
        )
        return [preview, *self._revision_urls(), *super().get_urls()]

    def preview_view(self, request, object_id):
        """What the public API would return for this row, drafts and scheduled rows included."""
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        body = json.dumps(self.preview_serializer(obj).data, indent=2, ensure_ascii=False)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"API preview: {obj}",
            "state": self.state(obj),
            "body": body,
        }
        return TemplateResponse(request, "admin/common/preview.html", context)
