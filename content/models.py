from django.db import models

from common.models import BaseModel, PublishableModel, live_slug_constraint


class ServiceIcon(models.TextChoices):
    DATABASE = "database", "Database (data collection)"
    FILTER = "filter", "Filter (data preparation)"
    BRAIN = "brain", "Brain (AI model development)"
    USERS = "users", "People (human-in-the-loop)"
    CHART = "chart", "Chart"
    SHIELD = "shield", "Shield"
    GLOBE = "globe", "Globe"
    TAG = "tag", "Tag"


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
        constraints = [live_slug_constraint("content_service")]

    def __str__(self):
        return self.name


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


class CaseStudy(BaseModel, PublishableModel):
    api_detail_url_name = "case-study-detail"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    client = models.CharField(max_length=200, help_text="The client's name as it may be shown publicly.")
    challenge = models.TextField()
    solution = models.TextField()
    industry = models.ForeignKey(Industry, on_delete=models.PROTECT, related_name="case_studies")
    services = models.ManyToManyField(Service, related_name="case_studies", blank=True)

    class Meta:
        ordering = ["-published_at", "title"]
        verbose_name_plural = "case studies"
        constraints = [live_slug_constraint("content_casestudy")]
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


class CaseStudyResult(BaseModel):
    case_study = models.ForeignKey(CaseStudy, on_delete=models.CASCADE, related_name="results")
    metric = models.CharField(max_length=120)
    value = models.CharField(max_length=60, help_text='As shown on the site, e.g. "98.5%" or "3x".')
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.metric}: {self.value}"
