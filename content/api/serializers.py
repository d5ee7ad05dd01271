from rest_framework import serializers

from content.models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature


class ServiceFeatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceFeature
        fields = ["title", "description", "order"]


class ServiceSerializer(serializers.ModelSerializer):
    features = ServiceFeatureSerializer(many=True, read_only=True)

    class Meta:
        model = Service
        fields = ["id", "name", "slug", "description", "icon", "order", "published_at", "features"]


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["name", "slug", "icon"]


class IndustrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Industry
        fields = ["id", "name", "slug"]


class IndustryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Industry
        fields = ["name", "slug"]


class CaseStudyResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseStudyResult
        fields = ["metric", "value", "description"]


_DATETIME = serializers.DateTimeField()


class CaseStudySerializer(serializers.ModelSerializer):
    """
    Serializes a model instance field by field, as any ModelSerializer does, or a row of
    selectors.case_study_relations() (a dict of values) straight into the same representation: DRF's
    field machinery and the model instances behind it cost most of an uncached page of twenty
    (docs/performance.md). A test compares the two paths (content/tests/test_case_study_list.py), so
    a field added to one and not the other fails there.
    """

    industry = IndustryRefSerializer(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    results = CaseStudyResultSerializer(many=True, read_only=True)

    class Meta:
        model = CaseStudy
        fields = [
            "id",
            "title",
            "slug",
            "client",
            "challenge",
            "solution",
            "industry",
            "services",
            "results",
            "published_at",
        ]

    def to_representation(self, instance):
        if not isinstance(instance, dict):
            return super().to_representation(instance)
        return {
            "id": str(instance["id"]),
            "title": instance["title"],
            "slug": instance["slug"],
            "client": instance["client"],
            "challenge": instance["challenge"],
            "solution": instance["solution"],
            "industry": instance["industry"],
            "services": instance["services"],
            "results": instance["results"],
            "published_at": _DATETIME.to_representation(instance["published_at"]),
        }
