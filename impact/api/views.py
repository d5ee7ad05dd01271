from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from common.views import PublicReadMixin
from content.api.mixins import RENAMED, RenamedSlugRedirectMixin
from impact import selectors

from .filters import ImpactStoryFilterSet
from .serializers import (
    ImpactStorySerializer,
    LocationSerializer,
    MetricSummaryQuerySerializer,
    MetricSummarySerializer,
)


class LocationListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = LocationSerializer

    def get_queryset(self):
        return selectors.location_list()


class ImpactStoryListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = ImpactStorySerializer
    filterset_class = ImpactStoryFilterSet

    def get_queryset(self):
        return selectors.impact_story_list()


@extend_schema(responses={200: ImpactStorySerializer, 301: RENAMED})
class ImpactStoryDetailApi(PublicReadMixin, RenamedSlugRedirectMixin, generics.RetrieveAPIView):
    serializer_class = ImpactStorySerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.impact_story_list()


class ImpactMetricSummaryApi(PublicReadMixin, APIView):
    # Its fields are the parameters the public cache keys on (common.caching.query_params_understood).
    query_serializer_class = MetricSummaryQuerySerializer

    @extend_schema(
        parameters=[MetricSummaryQuerySerializer],
        responses=MetricSummarySerializer,
        description=(
            "One figure per metric over published stories' metrics whose period lies inside the one "
            "asked for. Each metric declares its `aggregation`, returned with its total: counts "
            "(people, jobs) are summed; percentages and multipliers are averaged (`average`) or taken "
            "from the latest period (`latest`, averaged over the stories that reported it), never "
            "added up."
        ),
    )
    def get(self, request):
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        results = selectors.impact_metric_summary(**params)
        body = {
            "period_start": params.get("period_start"),
            "period_end": params.get("period_end"),
            "results": results,
        }
        return Response(MetricSummarySerializer(body).data)
