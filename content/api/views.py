from django.http import HttpResponse
from rest_framework import generics
from rest_framework.permissions import AllowAny

from content import documents, selectors
from content.models import CaseStudy

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
    """
    Rows come from the stored documents (content.documents). The site's default listing (no filter,
    at most an ordering) is one SQL statement; filtered requests go through the FilterSet as usual and
    read the same documents.
    """

    serializer_class = CaseStudySerializer
    filterset_class = CaseStudyFilterSet
    _FAST_PARAMS = frozenset({"limit", "offset", "ordering", "format"})

    def get_queryset(self):
        return selectors.case_study_list()

    def list(self, request, *args, **kwargs):
        params = request.query_params
        paginator = self.paginator
        if set(params) <= self._FAST_PARAMS and params.get("ordering") in documents.FAST_ORDERINGS:
            paginator.request = request
            paginator.limit = paginator.get_limit(request)
            paginator.offset = paginator.get_offset(request)
            paginator.count, page = documents.case_study_page(
                ordering=params.get("ordering"), limit=paginator.limit, offset=paginator.offset
            )
        else:
            queryset = self.filter_queryset(CaseStudy.objects.published())
            rows = paginator.paginate_queryset(queryset.values_list(*documents.COLUMNS), request, view=self)
            page = documents.current_documents(rows)
        body = documents.page_json(
            count=paginator.count,
            next_link=paginator.get_next_link(),
            previous_link=paginator.get_previous_link(),
            documents=page,
        )
        return HttpResponse(body, content_type="application/json")


class CaseStudyDetailApi(PublicReadMixin, generics.RetrieveAPIView):
    serializer_class = CaseStudySerializer
    lookup_field = "slug"

    def get_queryset(self):
        return selectors.case_study_list()
