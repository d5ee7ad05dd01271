from rest_framework import serializers

from content.api.serializers import RICH_TEXT_HELP, IllustratedFieldsMixin, SeoFieldsMixin
from impact.models import ImpactMetric, ImpactStory, Location


class LocationSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code", read_only=True)
    country_name = serializers.CharField(source="country.name", read_only=True)

    class Meta:
        model = Location
        fields = ["id", "name", "region", "country", "country_name"]


class ImpactMetricSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImpactMetric
        fields = ["metric_name", "value", "unit", "period_start", "period_end"]


class ImpactStorySerializer(SeoFieldsMixin, IllustratedFieldsMixin, serializers.ModelSerializer):
    location = LocationSerializer(read_only=True)
    metrics = ImpactMetricSerializer(many=True, read_only=True)
    story = serializers.CharField(read_only=True, help_text=RICH_TEXT_HELP)
    excerpt = serializers.SerializerMethodField(help_text="The start of the story as plain text.")
    description_source = "story"

    class Meta:
        model = ImpactStory
        fields = [
            "id",
            "title",
            "slug",
            "excerpt",
            "story",
            "beneficiaries",
            "location",
            "metrics",
            "hero_image",
            "gallery",
            "published_at",
            "meta_title",
            "meta_description",
        ]


class MetricSummaryQuerySerializer(serializers.Serializer):
    period_start = serializers.DateField(
        required=False, help_text="Only metrics whose period starts on or after."
    )
    period_end = serializers.DateField(
        required=False, help_text="Only metrics whose period ends on or before."
    )
    story = serializers.SlugField(required=False, max_length=220, help_text="An impact story slug.")
    location = serializers.UUIDField(required=False, help_text="A location id.")
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, help_text="ISO 3166 alpha-2, e.g. IN.")

    def validate(self, attrs):
        start, end = attrs.get("period_start"), attrs.get("period_end")
        if start and end and end < start:
            raise serializers.ValidationError({"period_end": ["The period must end after it starts."]})
        return attrs


class MetricTotalSerializer(serializers.Serializer):
    metric_name = serializers.CharField()
    unit = serializers.CharField()
    aggregation = serializers.ChoiceField(
        choices=ImpactMetric.Aggregation.choices,
        help_text="How `total` was made from the metric's rows: `sum` (counts), `average` (rates and "
        "multipliers: the mean of the rows) or `latest` (the mean of the rows of the latest period).",
    )
    total = serializers.DecimalField(
        max_digits=20,
        decimal_places=2,
        help_text="The metric's figure, made as `aggregation` says: a sum, an average, or the latest "
        "period's value; averages are rounded half up to the cent.",
    )
    count = serializers.IntegerField(help_text="How many metric rows the figure comes from.")
    latest_period_end = serializers.DateField(help_text="The end of the latest period among those rows.")


class MetricSummarySerializer(serializers.Serializer):
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    results = MetricTotalSerializer(many=True)
