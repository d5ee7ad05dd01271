"""
The revisions of a publishable item in the admin: the History page lists them (who, when, what
changed), compares any two field by field, and reverts to one after a confirmation (content.revisions,
content.publishing.revision_revert).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from .publishing import change_comment, content_save, revision_revert
from .revisions import editor_time, revision_compare, revision_list, revision_record


class RevisionsAdminMixin:
    """For a ModelAdmin of a model registered with django-reversion; its saves go through content_save."""

    def save_model(self, request, obj, form, change):
        # The revision waits for the inline rows: save_related() stores it once they are saved.
        changed = form.changed_data if change else None
        content_save(instance=obj, actor=request.user, changed=changed, revision=False)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        changed = list(form.changed_data) if change else None
        inlines = [f.model._meta.verbose_name_plural for f in formsets if change and f.has_changed()]
        comment = change_comment(form.instance, not change, changed)
        if inlines:
            comment = (comment if changed else "Changed") + " (" + ", ".join(map(str, inlines)) + ")"
        revision_record(instance=form.instance, actor=request.user, comment=comment)

    def _revision_urls(self):
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        return [
            path(
                "<path:object_id>/history/compare/",
                self.admin_site.admin_view(self.revision_compare_view),
                name=f"{name}_revision_compare",
            ),
            path(
                "<path:object_id>/history/<int:version_id>/revert/",
                self.admin_site.admin_view(self.revision_revert_view),
                name=f"{name}_revision_revert",
            ),
        ]

    def _context(self, request, obj, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": title,
            **extra,
        }

    def _object_and_versions(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404(f"No {self.model._meta.verbose_name} with id {object_id!r}.")
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj, revision_list(obj)

    def history_view(self, request, object_id, extra_context=None):
        obj, versions = self._object_and_versions(request, object_id)
        versions = list(versions)
        context = self._context(
            request,
            obj,
            f"History: {obj}",
            versions=versions,
            can_revert=self.has_change_permission(request, obj),
            **(extra_context or {}),
        )
        return TemplateResponse(request, "admin/common/revisions.html", context)

    def revision_compare_view(self, request, object_id):
        obj, versions = self._object_and_versions(request, object_id)
        try:
            chosen = {v.pk: v for v in versions.filter(pk__in=request.GET.getlist("version"))}
        except ValueError:
            chosen = {}
        if len(chosen) != 2:
            self.message_user(request, "Choose two revisions to compare.", messages.WARNING)
            return HttpResponseRedirect(self._history_url(obj))
        older, newer = sorted(chosen.values(), key=lambda v: v.revision.date_created)
        context = self._context(
            request,
            obj,
            f"Compare revisions: {obj}",
            older=older,
            newer=newer,
            differences=revision_compare(older, newer),
        )
        return TemplateResponse(request, "admin/common/revision_compare.html", context)

    def revision_revert_view(self, request, object_id, version_id):
        obj, versions = self._object_and_versions(request, object_id)
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        version = versions.filter(pk=version_id).first()
        if version is None:
            raise Http404(f"No revision {version_id} of this {self.model._meta.verbose_name}.")
        if request.method == "POST":
            try:
                revision_revert(instance=obj, version=version, actor=request.user)
            except ValidationError as error:
                self.message_user(request, "Not reverted: " + " ".join(error.messages), messages.ERROR)
            else:
                message = f"“{obj}” is back to its revision of {editor_time(version.revision.date_created)}."
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(reverse(f"admin:{self._name()}_change", args=[obj.pk]))
        current = versions.first()
        context = self._context(
            request,
            obj,
            f"Revert “{obj}” to its revision of {editor_time(version.revision.date_created)}?",
            older=version,
            newer=current,
            differences=revision_compare(version, current) if current else [],
            revert=True,
        )
        return TemplateResponse(request, "admin/common/revision_compare.html", context)

    def _name(self):
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}"

    def _history_url(self, obj):
        return reverse(f"admin:{self._name()}_history", args=[obj.pk])
