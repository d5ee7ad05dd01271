from django.core.exceptions import ValidationError
from django.db import models
from django_countries.fields import CountryField

from common.models import BaseModel, PublishableModel, publishable_constraints
from common.richtext import RichTextField
from content.models import IllustratedModel
from content.revisions import revisioned


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


# Revisions hold the item with its inline rows (content.revisions).
@revisioned("metrics")
class ImpactStory(BaseModel, PublishableModel, IllustratedModel):
    api_detail_url_name = "impact-story-detail"

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    story = RichTextField(help_text="The story. Headings, lists, links, bold and italic.")
    beneficiaries = models.PositiveIntegerField(default=0, help_text="People whose lives the work touched.")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="stories")

    class Meta:
        ordering = ["-published_at", "title"]
        verbose_name_plural = "impact stories"
        constraints = publishable_constraints("impact_impactstory")

    def __str__(self):
        return self.title


# Units of rates and multipliers: a figure in them never adds up across rows.
RATE_UNITS = ("%", "x", "X", "×")


@revisioned()  # held in its item's revisions
class ImpactMetric(BaseModel):
    class Aggregation(models.TextChoices):
        SUM = "sum", "Sum (counts: people, jobs, money)"
        AVERAGE = "average", "Average (rates and multipliers over the period)"
        LATEST = "latest", "Latest period's value (levels, e.g. a current rate)"

    story = models.ForeignKey(ImpactStory, on_delete=models.CASCADE, related_name="metrics")
    metric_name = models.CharField(max_length=120, help_text="e.g. Jobs created, Women employed.")
    value = models.DecimalField(max_digits=14, decimal_places=2)
    unit = models.CharField(max_length=40, blank=True, help_text="e.g. people, %, INR.")
    aggregation = models.CharField(
        max_length=10,
        choices=Aggregation.choices,
        default=Aggregation.SUM,
        help_text="How the impact summary combines this metric's rows: counts add up; percentages and "
        "multipliers are averaged or taken from the latest period.",
    )
    period_start = models.DateField()
    period_end = models.DateField(help_text="Must be after the start of the period.")

    class Meta:
        ordering = ["period_start", "metric_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(period_end__gt=models.F("period_start")),
                name="impact_metric_period_ends_after_start",
                violation_error_message="The period must end after it starts.",
            ),
            models.CheckConstraint(
                condition=~models.Q(unit__in=RATE_UNITS, aggregation="sum"),
                name="impact_metric_rate_is_not_summed",
                violation_error_message="A percentage or a multiplier cannot be added up: choose average "
                "or latest.",
            ),
        ]

    def __str__(self):
        return f"{self.metric_name}: {self.value} {self.unit}".strip()

    def clean(self):
        # On the field that is wrong, not atop the form; the check constraint backs it up in the database.
        super().clean()
        if self.period_start and self.period_end and self.period_end <= self.period_start:
            raise ValidationError({"period_end": "The period must end after it starts."})
        if self.unit in RATE_UNITS and self.aggregation == self.Aggregation.SUM:
            raise ValidationError(
                {"aggregation": "A percentage or a multiplier cannot be added up: choose average or latest."}
            )
