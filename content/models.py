import reversion
from django.db import models

from common.models import BaseModel, PublishableModel, publishable_constraints
from common.richtext import RichTextField


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
@reversion.register(follow=["features"])
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
    order = models.PositiveIntegerField(default=0, help_text="Lower numbers are listed first.")

    class Meta:
        ordering = ["order", "name"]
        constraints = publishable_constraints("content_service")

    def __str__(self):
        return self.name


@reversion.register()  # held in its item's revisions
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
@reversion.register(follow=["results"])
class CaseStudy(BaseModel, PublishableModel):
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


@reversion.register()  # held in its item's revisions
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
