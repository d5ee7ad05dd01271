from django.conf import settings
from django.db import models
from django.utils import timezone

from common.ids import uuid7


class AuditLog(models.Model):
    """
    One thing that happened, by whom, to what. Append-only: it has created_at but no updated_at, since
    a row is never changed after it is written. On PostgreSQL a trigger refuses UPDATE and DELETE (the
    retention purge of rows past their time is the one exception, see audit/chain.py).

    Rows form a hash chain: `sequence` numbers them without gaps, and `hash` is a keyed HMAC over the
    row's content and `prev_hash`, the hash of the row before it. Changing, removing or slipping in a
    row breaks the chain at that row; `manage.py verify_audit_chain` names it.
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    sequence = models.BigIntegerField(unique=True, editable=False)
    action = models.CharField(max_length=64, db_index=True)
    entity_type = models.CharField(max_length=64)
    entity_id = models.CharField(max_length=64, blank=True)
    # No database constraint: erasing a user must not rewrite (or be blocked by) the log about them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    changes = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, editable=False)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["entity_type", "entity_id"], name="audit_entity_idx"),
            models.Index(fields=["actor"], name="audit_actor_idx"),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.entity_type}:{self.entity_id}"
