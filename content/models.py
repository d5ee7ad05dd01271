from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from common.models import BaseModel, PublishableModel, publishable_constraints
from common.richtext import RichTextField

from .revisions import revisioned


class Image(BaseModel):
    """
    A picture of the media library. The upload is kept privately, as sent; the site shows renditions
    made from it in Celery (content.images): re-encoded pixels only, in their own public storage.
    """

    class State(models.TextChoices):
        PROCESSING = "processing", "Making renditions"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # The upload as sent, by its name in the private storage (looked up per use, as uploads do, so that
    # the storage settings of the moment apply).
    original = models.CharField(max_length=255, editable=False)
    alt_text = models.CharField(
        max_length=250,
        help_text="What the picture shows, for readers who cannot see it. Required.",
    )
    credit = models.CharField(max_length=200, blank=True, help_text="Photographer or source, if owed.")
    focal_x = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Where the subject is, from the left edge (0) to the right (1): crops keep it in view.",
    )
    focal_y = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="From the top edge (0) to the bottom (1).",
    )
    kind = models.CharField(max_length=8, editable=False)
    width = models.PositiveIntegerField(editable=False)
    height = models.PositiveIntegerField(editable=False)
    size = models.PositiveBigIntegerField(editable=False)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PROCESSING, editable=False)
    error = models.CharField(max_length=300, blank=True, editable=False)
    # [{"name": storage name, "width", "height", "format"}], widest first: filled by the renditions task.
    renditions = models.JSONField(default=list, blank=True, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(focal_x__isnull=True) & models.Q(focal_y__isnull=True))
                | (models.Q(focal_x__isnull=False) & models.Q(focal_y__isnull=False)),
                name="content_image_focal_point_whole",
                violation_error_message="Give both coordinates of the focal point, or neither.",
            )
        ]

    def __str__(self):
        return self.alt_text

    def clean(self):
        # On the coordinate that is missing, not atop the form; the check constraint backs it up.
        super().clean()
        if (self.focal_x is None) != (self.focal_y is None):
            missing = "focal_y" if self.focal_y is None else "focal_x"
            raise ValidationError({missing: "Give both coordinates of the focal point, or neither."})

    @staticmethod
    def public_storage():
        return storages["public_media"]


class IllustratedModel(models.Model):
    """A hero image and a gallery from the media library (case studies and impact stories)."""

    hero_image = models.ForeignKey(
        Image,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Shown at the top.",
    )
    gallery = models.ManyToManyField(Image, blank=True, related_name="%(app_label)s_%(class)s_galleries")

    class Meta:
        abstract = True


class ServiceIcon(models.TextChoices):
    DATABASE = "database", "Database (data collection)"
    FILTER = "filter", "Filter (data preparation)"
    BRAIN = "brain", "Brain (AI model development)"
    USERS = "users", "People (human-in-the-loop)"
    CHART = "chart", "Chart"
    SHIELD = "shield", "Shield"
    GLOBE = "globe", "Globe"
    TAG = "tag", "Tag"


# Revisions hold the item with its inline rows (content.revisions).
@revisioned("features")
class Service(BaseModel, PublishableModel):
    api_detail_url_name = "service-detail"

    name = models.CharField(max_length=120)
    slug = models.SlugField(
        max_length=140, help_text="The address of the service page, e.g. data-collection."
    )
    description = models.TextField()
    icon = models.CharField(
        max_length=32,
        choices=ServiceIcon.choices,
        default=ServiceIcon.DATABASE,
        help_text="The picture shown beside the service on the site.",
        error_messages={"invalid_choice": "Choose one of the listed icons: “%(value)s” is not one of them."},
    )
    icon_image = models.ForeignKey(
        Image,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="A picture from the library shown as the icon; the named icon above stands in without one.",
    )
    order = models.PositiveIntegerField(default=0, help_text="Lower numbers are listed first.")

    class Meta:
        ordering = ["order", "name"]
        constraints = publishable_constraints("content_service")

    def __str__(self):
        return self.name


@revisioned()  # held in its item's revisions
class ServiceFeature(BaseModel):
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="features")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "title"]

    def __str__(self):
        return self.title


class Industry(BaseModel):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "industries"

    def __str__(self):
        return self.name


# Revisions hold the item with its inline rows (content.revisions).
@revisioned("results")
class CaseStudy(BaseModel, PublishableModel, IllustratedModel):
    api_detail_url_name = "case-study-detail"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    client = models.CharField(max_length=200, help_text="The client's name as it may be shown publicly.")
    challenge = RichTextField(help_text="The client's problem. Headings, lists, links, bold and italic.")
    solution = RichTextField(help_text="What was done and how. Headings, lists, links, bold and italic.")
    industry = models.ForeignKey(Industry, on_delete=models.PROTECT, related_name="case_studies")
    services = models.ManyToManyField(Service, related_name="case_studies", blank=True)

    class Meta:
        ordering = ["-published_at", "title"]
        verbose_name_plural = "case studies"
        constraints = publishable_constraints("content_casestudy")
        indexes = [
            # The public list's default order over the rows it can show: an index scan, no sort.
            models.Index(
                fields=["-published_at", "title"],
                condition=models.Q(deleted_at__isnull=True, status="published"),
                name="casestudy_public_order_idx",
            )
        ]

    def __str__(self):
        return self.title


@revisioned()  # held in its item's revisions
class CaseStudyResult(BaseModel):
    case_study = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="results")
    metric = models.CharField(max_length=120)
    value = models.CharField(max_length=60, help_text='As shown on the site, e.g. "98.5%" or "3x".')
    description = models.TextField(blank=True)
    order = models.PositiveIntegerField(default=0, help_text="Lower numbers are listed first.")

    class Meta:
        ordering = ["order", "created_at"]

    def __str__(self):
        return f"{self.metric}: {self.value}"


class SlugRedirect(BaseModel):
    """
    A slug a published row answered to before an editor changed it: the old address keeps working, with
    a permanent redirect to the row's current slug (content.publishing records it, the detail views
    follow it). The row is found by id, so a slug changed twice still leads to where it is now.
    """

    model = models.CharField(max_length=100, help_text="The row's model, as app_label.model_name.")
    old_slug = models.SlugField(max_length=220)
    object_id = models.UUIDField()

    class Meta:
        ordering = ["model", "old_slug"]
        constraints = [
            models.UniqueConstraint(fields=["model", "old_slug"], name="content_slugredirect_unique")
        ]

    def __str__(self):
        return f"{self.model}: {self.old_slug}"


class Digest(BaseModel):
    """
    One mail of newly published case studies (content.digest): the case studies published in
    (window_start, window_end], fixed when it is made, and sent once to each user who opted in.
    """

    window_start = models.DateTimeField()
    window_end = models.DateTimeField(unique=True)
    case_studies = models.ManyToManyField(CaseStudy, related_name="digests", blank=True)

    class Meta:
        ordering = ["-window_end"]

    def __str__(self):
        return f"Case-study digest to {self.window_end:%Y-%m-%d %H:%M}"


class DigestDelivery(BaseModel):
    """A digest sent to a user: the unique pair is what keeps it to one mail, however often the job runs."""

    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="deliveries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest", "user"], name="content_digest_once_per_user")
        ]
        verbose_name_plural = "digest deliveries"

    def __str__(self):
        return f"{self.digest} to user {self.user_id}"
