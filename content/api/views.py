from django.http import Http404, HttpResponse
from rest_framework import exceptions, generics
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request

from common.views import PublicReadMixin
from content import documents, selectors
from content.models import CaseStudy

from .filters import CaseStudyFilterSet
from .serializers import CaseStudySerializer, IndustrySerializer, ServiceSerializer


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

    def dispatch(self, request, *args, **kwargs):
        # A GET of the default listing needs little of DRF's request cycle: the view authenticates no
        # one, allows anyone, throttles nothing, parses no body, and its body is the same JSON whichever
        # renderer is negotiated. Only the negotiation can refuse (404 for an unknown `format`, 406 for
        # an `Accept` no renderer serves), so it still runs whenever it could, and when it refuses the
        # full cycle answers as it always has. finalize_response adds the same Allow and Vary headers.
        # The rest of the cycle cost about 0.04 ms of each uncached page (docs/performance.md).
        if request.method == "GET" and self._is_default_listing(request.GET):
            self.args, self.kwargs, self.request = args, kwargs, Request(request)
            self.format_kwarg = self.get_format_suffix(**kwargs)
            try:
                if not self._json_for_sure(request):
                    self.request.accepted_renderer, self.request.accepted_media_type = (
                        self.perform_content_negotiation(self.request)
                    )
            except (exceptions.NotAcceptable, Http404):
                pass
            else:
                self.headers = self.default_response_headers
                try:
                    response = self._default_listing(self.request)
                except exceptions.ValidationError as exc:  # a bad limit or offset: the API's 400
                    response = self.handle_exception(exc)
                return self.finalize_response(self.request, response)
        return super().dispatch(request, *args, **kwargs)

    def _json_for_sure(self, request) -> bool:
        # What most clients send (no format, no Accept or a JSON one) cannot be refused while JSON is
        # the first renderer, and the body ignores the renderer: negotiating it anyway cost 5 % of the
        # page's instructions (bench/instructions.py).
        return (
            "format" not in request.GET
            and request.META.get("HTTP_ACCEPT", "*/*") in ("*/*", "application/json")
            and self.renderer_classes[0] is JSONRenderer
        )

    def list(self, request, *args, **kwargs):
        if self._is_default_listing(request.query_params):
            return self._default_listing(request)  # HEAD comes this way
        paginator = self.paginator
        queryset = self.filter_queryset(CaseStudy.objects.published())
        rows = paginator.paginate_queryset(queryset.values_list(*documents.COLUMNS), request, view=self)
        return _page_response(paginator, documents.current_documents(rows))

    def _is_default_listing(self, params) -> bool:
        return set(params) <= self._FAST_PARAMS and params.get("ordering") in documents.FAST_ORDERINGS

    def _default_listing(self, request):
        paginator = self.paginator
        paginator.request = request
        paginator.limit = paginator.get_limit(request)
        paginator.offset = paginator.get_offset(request)
        paginator.count, page = documents.case_study_page(
            ordering=request.query_params.get("ordering"), limit=paginator.limit, offset=paginator.offset
        )
        return _page_response(paginator, page)


def _page_response(paginator, page: list[str]) -> HttpResponse:
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
