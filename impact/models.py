from django.db import models
from django_countries.fields import CountryField

from common.models import BaseModel, PublishableModel, live_slug_constraint


class Location(BaseModel):
    name = models.CharField(max_length=120)
    region = models.CharField(max_length=120, help_text="State or province.")
    country = CountryField()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["name", "region", "country"], name="impact_location_unique")
        ]

    def __str__(self):
        return f"{self.name}, {self.region}"


class ImpactStory(BaseModel, PublishableModel):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    story = models.TextField()
    beneficiaries = models.PositiveIntegerField(default=0, help_text="People whose lives the work touched.")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stories")

    class Meta:
        ordering = ["-published_at", "title"]
        verbose_name_plural = "impact stories"
        constraints = [live_slug_constraint("impact_impactstory")]

    def __str__(self):
        return self.title


class ImpactMetric(BaseModel):
    story = models.ForeignKey(ImpactStory, on_delete=models.CASCADE, related_name="metrics")
    metric_name = models.CharField(max_length=120, help_text="e.g. Jobs created, Women employed.")
    value = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. people, %, INR.")
    period_start = models.DateField()
    period_end = models.DateField(help_text="Must be after the start of the period.")

    class Meta:
        ordering = ["period_start", "metric_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="impact_metric_period_ends_after_start",
                violation_error_message="The period must end after it starts.",
            )
        ]

    def __str__(self):
        return f"{self.metric_name}: {self.value} {self.unit}".strip()
