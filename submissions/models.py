from django.conf import settings
from django.db import models

from common.fields import EncryptedJSONField
from common.models import BaseModel


class FormType(models.TextChoices):
    CONTACT = "contact", "Contact"
    DEMO_REQUEST = "demo_request", "Demo request"
    QUOTE_REQUEST = "quote_request", "Quote request"


class SubmissionStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class FormSubmission(BaseModel):
    # Visitors need no account.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="submissions",
    )
    form_type = models.CharField(max_length=20, choices=FormType.choices)
    # Everything the visitor typed, PII included: encrypted at rest.
    data = EncryptedJSONField(default=dict)
    # Keyed HMAC of the normalised e-mail: finds a person's submissions without decrypting every row.
    email_hash = models.CharField(max_length=64, db_index=True, blank=True)
    status = models.CharField(
        max_length=16, choices=SubmissionStatus.choices, default=SubmissionStatus.SUBMITTED
    )
    services = models.ManyToManyField("content.Service", blank=True, related_name="+")
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    # Whose key it is (a keyed HMAC of the user id, else of the client address: no address in clear),
    # and a keyed HMAC of the request body it came with. A key is looked up within its scope only, and
    # the same key with another body is refused. Empty on rows not made through the API.
    idempotency_scope = models.CharField(max_length=64, blank=True, default="")
    idempotency_fingerprint = models.CharField(max_length=64, blank=True, default="")
    error = models.TextField(blank=True)
    # Set when queueing the e-mail task failed (the broker was down): no copy is in the queue, so the
    # sweep, every 30 s, queues the row at once instead of after its staleness threshold.
    enqueue_failed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["form_type", "status"], name="submission_type_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["form_type", "idempotency_scope", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="submission_idempotency_scope_unique",
            )
        ]

    def __str__(self):
        return f"{self.get_form_type_display()} {self.created_at:%Y-%m-%d %H:%M}"


class MailKind(models.TextChoices):
    SALES = "sales", "E-mail to the sales inbox"


class MailAttempt(BaseModel):
    """
    The outbox row that makes an e-mail at-most-once: claimed and committed before the message goes out,
    marked sent in the transaction that completes the submission. A run that finds another run's claim
    never confirmed cannot know whether that message left, so it does not send again
    (docs/lead-forms.md, "The e-mail to sales").
    """

    submission = models.ForeignKey(FormSubmission, on_delete=models.CASCADE, related_name="mail_attempts")
    kind = models.CharField(max_length=16, choices=MailKind.choices, default=MailKind.SALES)
    # Which run claimed it: that run may send; any other finding it unconfirmed may not.
    token = models.CharField(max_length=32)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "kind"], name="mail_attempt_one_per_submission_kind"
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.submission_id}"
