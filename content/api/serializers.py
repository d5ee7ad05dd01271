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


class CaseStudySerializer(serializers.ModelSerializer):
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
