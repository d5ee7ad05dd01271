import datetime

from django.utils import timezone
from rest_framework import serializers

from content.models import Service
from submissions.models import FormSubmission

NAME_MAX = 200
COMPANY_MAX = 200
MESSAGE_MAX = 5000
DATA_VOLUME_MAX = 500
SLUG_MAX = 140
SERVICES_MAX = 20

BUDGET_RANGES = [
    ("<10k", "Under 10,000 USD"),
    ("10k-25k", "10,000 to 25,000 USD"),
    ("25k-100k", "25,000 to 100,000 USD"),
    (">100k", "Over 100,000 USD"),
]
TIMELINES = [
    ("asap", "As soon as possible"),
    ("1-3 months", "In 1 to 3 months"),
    ("3-6 months", "In 3 to 6 months"),
    ("6+ months", "In 6 months or later"),
]


class ServiceSlugsField(serializers.ListField):
    """
    Slugs of live, published services, checked with one query. Every problem is reported under the
    field's own name, and the validated value is the list of Service rows in the order given.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField(max_length=SLUG_MAX))
        kwargs.setdefault("max_length", SERVICES_MAX)
        super().__init__(**kwargs)

    def run_child_validation(self, data):
        try:
            return super().run_child_validation(data)
        except serializers.ValidationError as exc:
            messages = {str(m) for errors in exc.detail.values() for m in errors}
            raise serializers.ValidationError(sorted(messages)) from exc

    def to_internal_value(self, data):
        slugs = list(dict.fromkeys(super().to_internal_value(data)))  # repeated slugs count once
        found = {service.slug: service for service in Service.objects.published().filter(slug__in=slugs)}
        unknown = [slug for slug in slugs if slug not in found]
        if unknown:
            raise serializers.ValidationError(
                f"No published service with the slug {', '.join(repr(s) for s in unknown)}."
            )
        return [found[slug] for slug in slugs]


class LeadFormSerializer(serializers.Serializer):
    """What every lead form asks. `website` is a trap for bots: people never see it."""

    name = serializers.CharField(max_length=NAME_MAX)
    email = serializers.EmailField(max_length=254)
    website = serializers.CharField(
        max_length=2048,
        required=False,
        allow_blank=True,
        default="",
        help_text="Leave empty. Hidden from people on the site; a value marks the request as automated.",
    )

    def submission_data(self) -> dict:
        """What the visitor typed, as stored (encrypted): dates as ISO strings, services as slugs."""
        data = {}
        for key, value in self.validated_data.items():
            if key == "website":
                continue
            if key == "services":
                value = [service.slug for service in value]
            elif isinstance(value, datetime.date):
                value = value.isoformat()
            data[key] = value
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.validated_data.get("website", "").strip())


class ContactInputSerializer(LeadFormSerializer):
    """A message to IndiVillage. `website` must be left empty."""

    message = serializers.CharField(max_length=MESSAGE_MAX)


class DemoRequestInputSerializer(LeadFormSerializer):
    """A demo of published services on a preferred date. `website` must be left empty."""

    company = serializers.CharField(max_length=COMPANY_MAX)
    preferred_date = serializers.DateField(
        help_text="The day the visitor would like the demo; not in the past."
    )
    services = ServiceSlugsField(
        allow_empty=True, help_text="Slugs of published services the demo should cover."
    )
    message = serializers.CharField(max_length=MESSAGE_MAX, required=False, allow_blank=True, default="")

    def validate_preferred_date(self, value: datetime.date) -> datetime.date:
        # "Today" for the visitor: the earliest date still current somewhere on Earth (UTC-12), so
        # nobody anywhere is told that their today is in the past.
        earliest = (timezone.now() - datetime.timedelta(hours=12)).date()
        if value < earliest:
            raise serializers.ValidationError("The preferred date cannot be in the past.")
        return value


class QuoteRequestInputSerializer(LeadFormSerializer):
    """A quote for published services. `website` must be left empty."""

    company = serializers.CharField(max_length=COMPANY_MAX)
    services = ServiceSlugsField(
        allow_empty=False, help_text="Slugs of published services to quote for; at least one."
    )
    budget_range = serializers.ChoiceField(choices=BUDGET_RANGES)
    timeline = serializers.ChoiceField(choices=TIMELINES)
    data_volume = serializers.CharField(
        max_length=DATA_VOLUME_MAX,
        help_text='The amount of data, in the visitor\'s words, e.g. "50,000 images".',
    )
    message = serializers.CharField(max_length=MESSAGE_MAX, required=False, allow_blank=True, default="")


class SubmissionOutputSerializer(serializers.ModelSerializer):
    """The receipt: no field of what the visitor typed is ever sent back."""

    class Meta:
        model = FormSubmission
        fields = ["id", "form_type", "status", "created_at"]
        read_only_fields = fields
