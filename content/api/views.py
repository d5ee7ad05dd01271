from drf_spectacular.utils import extend_schema
from rest_framework import generics

from common.views import PublicReadMixin
from content import selectors

from .filters import CaseStudyFilterSet
from .mixins import RENAMED, RenamedSlugRedirectMixin
from .serializers import CaseStudySerializer, IndustrySerializer, ServiceSerializer


class ServiceListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return selectors.service_list()


@extend_schema(responses={200: ServiceSerializer, 301: RENAMED})
class ServiceDetailApi(PublicReadMixin, RenamedSlugRedirectMixin, generics.RetrieveAPIView):
    serializer_class = ServiceSerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.service_list()


class IndustryListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = IndustrySerializer

    def get_queryset(self):
        return selectors.industry_list()


class CaseStudyListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = CaseStudySerializer
    filterset_class = CaseStudyFilterSet

    def get_queryset(self):
        return selectors.case_study_list()

    def paginate_queryset(self, queryset):
        # The page's results and services, two queries for the page (rows are values, not instances).
        return selectors.case_study_relations(super().paginate_queryset(queryset))


@extend_schema(responses={200: CaseStudySerializer, 301: RENAMED})
class CaseStudyDetailApi(PublicReadMixin, RenamedSlugRedirectMixin, generics.RetrieveAPIView):
    serializer_class = CaseStudySerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.case_study_list()

    def get_object(self):
        return selectors.case_study_relations([super().get_object()])[0]
