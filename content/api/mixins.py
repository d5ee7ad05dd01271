from django.http import Http404
from django.urls import reverse
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.response import Response

from common.caching import public_cache_control
from content import selectors

RENAMED = OpenApiResponse(
    description="The item's slug was changed: `Location` is its current address (a permanent redirect)."
)


class RenamedSlugRedirectMixin:
    """
    A public detail view by slug whose old slugs keep answering: a slug a published row had before an
    editor renamed it gets a 301 to the current one (content.models.SlugRedirect), so links and search
    results pointing at the old address keep working.
    """

    def retrieve(self, request, *args, **kwargs):
        try:
            return super().retrieve(request, *args, **kwargs)
        except Http404:
            model = self.get_queryset().model
            slug = selectors.slug_redirect_target(model, kwargs[self.lookup_field])
            if slug is None:
                raise
        location = reverse(model.api_detail_url_name, kwargs={"slug": slug})
        if request.META.get("QUERY_STRING"):
            location = f"{location}?{request.META['QUERY_STRING']}"
        response = Response(
            {"detail": "Moved permanently.", "slug": slug},
            status=status.HTTP_301_MOVED_PERMANENTLY,
            headers={"Location": request.build_absolute_uri(location)},
        )
        # Kept as long as the page itself, not for ever: the old slug may be given to another item.
        patch_cache_control(response, **public_cache_control())
        return response
