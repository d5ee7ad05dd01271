"""
Revisions of the publishable content (django-reversion): every save of a service, case study or impact
story stores one, with the rows edited inline (features, results, metrics) and the chosen services, who
made it and what it changed. Editors compare any two field by field and revert to one; a revert is a save
like any other (validated, audited as content.reverted, and itself a revision: content.publishing).

Reverting brings back what an editor writes (the text, the inline rows, the links) and leaves where the
item stands for the public as it is now (status, publication and expiry times, trash): going back to the
words of last month must not unpublish or schedule anything by surprise.

django-reversion over django-simple-history: one revision holds the item with its inline rows (`follow`),
which is what an editor saved and what a revert must restore together; simple-history keeps one history
table per model with no grouping of a save's rows. django-pghistory needs PostgreSQL triggers, and the
embedded mode runs on SQLite.
"""

from dataclasses import dataclass

import reversion
from django.db import models
from django.utils import timezone
from reversion.models import Version

from common.richtext import plain_text

# Where an item stands for the public: kept as it is by a revert.
STATE_FIELDS = frozenset({"status", "published_at", "expires_at", "deleted_at", "created_at", "updated_at"})


def revisioned(*follow: str):
    """
    Registers a model with django-reversion, its revisions holding the inline rows of the relations in
    `follow`; the model keeps them as `revision_follow`, which a revert restores (content.publishing).
    """

    def register(model):
        model.revision_follow = follow
        return reversion.register(model, follow=follow)

    return register


def editor_time(moment) -> str:
    """A time as editors read it: in the admin's time zone (settings.EDITOR_TIME_ZONE), e.g. 05 Dec 2026 15:26 IST."""
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z")


def revision_record(*, instance: models.Model, actor, comment: str) -> None:
    """Stores the item as it is now, with the rows it follows, as one revision (in the caller's transaction)."""
    if not reversion.is_registered(type(instance)):
        return
    with reversion.create_revision(manage_manually=True, atomic=False):
        reversion.set_user(actor if getattr(actor, "is_authenticated", False) else None)
        reversion.set_comment(comment)
        reversion.add_to_revision(instance)


def revision_list(instance: models.Model):
    """The item's revisions, newest first, with their author."""
    return Version.objects.get_for_object(instance).select_related("revision__user")


# --- Comparing -------------------------------------------------------------------------------------------


@dataclass
class Difference:
    label: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new


def _shown(field: models.Field, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(field, models.ForeignKey):
        return str(field.related_model._base_manager.filter(pk=value).first() or value)
    if isinstance(value, list):  # many-to-many: the related rows' names
        names = field.related_model._base_manager.filter(pk__in=value).order_by("pk")
        return ", ".join(sorted(str(row) for row in names)) or "—"
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return editor_time(value)
    text = str(value)
    # Rich text compares as what a reader sees; the markup is in the revision itself.
    return plain_text(text) if "<" in text else text


def _followed(version: Version) -> dict[str, list[str]]:
    """The inline rows a revision holds, by their model's plural name, each shown as its str()."""
    rows: dict[str, list[str]] = {}
    for item in version.revision.version_set.exclude(pk=version.pk).select_related("content_type"):
        model = item.content_type.model_class()
        rows.setdefault(str(model._meta.verbose_name_plural).capitalize(), []).append(item.object_repr)
    return {name: sorted(values) for name, values in rows.items()}


def revision_compare(older: Version, newer: Version) -> list[Difference]:
    """Field by field, then each kind of inline row, the two revisions side by side."""
    model = older.content_type.model_class()
    differences = []
    fields = [*model._meta.concrete_fields, *model._meta.many_to_many]
    # What an editor writes first, where the item stands (which a revert keeps) last.
    fields.sort(key=lambda field: field.name in STATE_FIELDS)
    for field in fields:
        if field.primary_key or field.name in STATE_FIELDS - {"status", "published_at", "expires_at"}:
            continue
        label = str(field.verbose_name).capitalize()
        old, new = older.field_dict.get(field.attname), newer.field_dict.get(field.attname)
        differences.append(Difference(label, _shown(field, old), _shown(field, new)))
    old_rows, new_rows = _followed(older), _followed(newer)
    for name in sorted(set(old_rows) | set(new_rows)):
        old, new = old_rows.get(name, []), new_rows.get(name, [])
        differences.append(Difference(name, "\n".join(old) or "—", "\n".join(new) or "—"))
    return differences
