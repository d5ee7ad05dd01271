from django.db import models
from django.db.models.functions import Now

from common.models import BaseModel


class ErasureReason(models.TextChoices):
    SELF_SERVICE = "self_service", "Asked for by the user"
    ADMIN = "admin", "Erased by an admin"
    # The forms sent without an account by an address that has none, erased on request by an admin.
    VISITOR = "visitor", "A visitor's forms, erased by an admin"


class ErasureRecord(BaseModel):
    """
    That a user (or, with no user_id, a visitor's forms) was erased, kept by id and e-mail blind index
    only (never the address itself), so that an erasure can be applied again to a database restored
    from a backup taken before it.
    """

    user_id = models.UUIDField(null=True, blank=True, db_index=True)
    email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Stamped by the database's clock as the row is inserted, the clock a backup reads its erasure
    # boundary from (ops/erasure_boundary.py); a replay sets it explicitly.
    erased_at = models.DateTimeField(db_default=Now(), db_index=True)
    reason = models.CharField(max_length=16, choices=ErasureReason.choices)
    actor_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["erased_at"]

    def __str__(self):
        who = f"user {self.user_id}" if self.user_id else "visitor forms"
        return f"{who} erased {self.erased_at:%Y-%m-%d %H:%M}"


class KeyRotationKind(models.TextChoices):
    FIELD_KEY = "field_key", "Field encryption key"
    BLIND_INDEX = "blind_index", "Blind index key"


class KeyRotation(BaseModel):
    """
    The progress of one re-encryption (or blind-index recomputation) towards one key, so that an
    interrupted run resumes where it stopped. `target` is a fingerprint of the new key, never the key.
    """

    kind = models.CharField(max_length=16, choices=KeyRotationKind.choices)
    target = models.CharField(max_length=64)
    # {"<app_label.model.field>": "<last primary key done>"}
    progress = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "target"], name="compliance_keyrotation_kind_target")
        ]

    def __str__(self):
        state = "finished" if self.finished_at else "in progress"
        return f"{self.get_kind_display()} rotation to {self.target[:12]} ({state})"
