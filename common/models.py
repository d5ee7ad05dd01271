from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from .ids import uuid7


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


class SoftDeleteManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """The default manager: soft-deleted rows do not exist for ordinary code."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class SoftDeleteModel(models.Model):
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    objects = SoftDeleteManager()
    # The trash, restore and purge paths see everything.
    all_objects = models.Manager.from_queryset(SoftDeleteQuerySet)()

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def validate_constraints(self, exclude=None):
        # A form never carries deleted_at, and Django skips a constraint whose condition reads an
        # excluded field: the live-slug rule would then go unchecked and fail in the database instead.
        super().validate_constraints(exclude=set(exclude or ()) - {"deleted_at"})


class PublishStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class PublishableQuerySet(SoftDeleteQuerySet):
    def published(self, at=None):
        """
        What the public may see. The clock decides, not a job: a row scheduled for later shows up by
        itself once its time has come, and leaves by itself at its expiry.
        """
        at = at or timezone.now()
        return self.filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=at),
            deleted_at__isnull=True,
            status=PublishStatus.PUBLISHED,
            published_at__isnull=False,
            published_at__lte=at,
        )

    def scheduled(self, at=None):
        """Published rows whose publication time is still to come."""
        return self.filter(status=PublishStatus.PUBLISHED, published_at__gt=at or timezone.now())

    def expired(self, at=None):
        """Published rows whose expiry has passed: off the site, kept for the record."""
        return self.filter(status=PublishStatus.PUBLISHED, expires_at__lte=at or timezone.now())


class PublishableManager(models.Manager.from_queryset(PublishableQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class PublishableModel(SoftDeleteModel):
    """A soft-deleted, publishable piece of public content with a slug unique among live rows."""

    status = models.CharField(
        max_length=16,
        choices=PublishStatus.choices,
        default=PublishStatus.DRAFT,
        db_index=True,
        help_text="Only published items whose publication time has come are shown on the site.",
    )
    published_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the item goes live: empty means now, once published; a time in the future "
        "schedules it.",
    )
    expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the item leaves the site by itself. Leave empty to keep it up.",
    )
    # What search engines show; the title and the first words of the text stand in when empty.
    meta_title = models.CharField(
        max_length=70,
        blank=True,
        help_text="The title search engines show. Up to 60 characters show in full; leave empty to use "
        "the title.",
    )
    meta_description = models.CharField(
        max_length=200,
        blank=True,
        help_text="The summary search engines show under the title. 120 to 160 characters show in full.",
    )

    objects = PublishableManager()
    all_objects = models.Manager.from_queryset(PublishableQuerySet)()
    # The name of the URL of the row's public API page (taking its slug): rendered into the cache after
    # a publish (content.publishing).
    api_detail_url_name: str | None = None

    class Meta:
        abstract = True

    @property
    def publish_state(self) -> str:
        if self.deleted_at:
            return "deleted"
        if self.status != PublishStatus.PUBLISHED or self.published_at is None:
            return "draft"
        now = timezone.now()
        if self.published_at > now:
            return "scheduled"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "published"

    def clean(self):
        # On the field, where the editor looks; the database's check constraint backs it up, and is
        # skipped by full_clean() once this error excludes the field.
        super().clean()
        if self.expires_at and self.published_at and self.expires_at <= self.published_at:
            raise ValidationError({"expires_at": "The expiry must come after the publication time."})


def live_slug_constraint(model_label: str) -> models.UniqueConstraint:
    """
    A slug is unique among live rows only, so deleting a row frees its slug. The code "unique" is what
    makes Model.validate_constraints() put the error on the slug field rather than atop the form.
    """
    return models.UniqueConstraint(
        fields=["slug"],
        condition=models.Q(deleted_at__isnull=True),
        name=f"{model_label}_slug_unique_live",
        violation_error_message="Another live item already uses this slug.",
        violation_error_code="unique",
    )


def expiry_after_publication_constraint(model_label: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(expires_at__isnull=True)
        | models.Q(published_at__isnull=True)
        | models.Q(expires_at__gt=models.F("published_at")),
        name=f"{model_label}_expires_after_published",
        violation_error_message="The expiry must come after the publication time.",
    )


def publishable_constraints(model_label: str) -> list[models.BaseConstraint]:
    """The constraints every concrete publishable model declares (an abstract Meta's would be replaced)."""
    return [live_slug_constraint(model_label), expiry_after_publication_constraint(model_label)]


class JobLock(BaseModel):
    """
    A named lock held by one run of a periodic job, in the database so that it works the same on SQLite
    and PostgreSQL and across hosts. `expires_at` frees a lock whose holder died without releasing it.
    """

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} held by {self.holder} until {self.expires_at:%Y-%m-%d %H:%M:%S}"
