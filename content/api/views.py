from rest_framework import generics
from rest_framework.permissions import AllowAny

from content import selectors

from .filters import CaseStudyFilterSet
from .serializers import CaseStudySerializer, IndustrySerializer, ServiceSerializer


class PublicReadMixin:
    # Public content is the same for everyone: no authentication to run, so a stale or bad token on
    # a public page is never a 401.
    authentication_classes = []
    permission_classes = [AllowAny]


class ServiceListApi(PublicReadMixin, generics.ListAPIView):
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return selectors.service_list()


class ServiceDetailApi(PublicReadMixin, generics.RetrieveAPIView):
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


class CaseStudyDetailApi(PublicReadMixin, generics.RetrieveAPIView):
    serializer_class = CaseStudySerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.case_study_list()
