"""Pieces every public read view shares."""

from django.conf import settings
from django.http import Http404
from django.utils.cache import patch_cache_control
from django.views.static import serve
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer

from .caching import public_cache_control, query_params_understood


class PublicReadMixin:
    """
    Public content, the same for everyone. No authentication runs, so a stale or bad token on a public
    page is never a 401. A 200 in JSON is marked `public` with the max-ages of settings, so that the
    app's own cache (common.caching), a reverse proxy and a CDN may keep it; a request with a query
    parameter the view does not read (`?junk=...`, a cache buster) is answered but marked `no-cache`,
    so that no cache keeps one copy per value. The browsable API's HTML is for one reader only.
    """

    authentication_classes = []
    permission_classes = [AllowAny]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        if isinstance(getattr(request, "accepted_renderer", None), BrowsableAPIRenderer):
            patch_cache_control(response, private=True, no_cache=True)
        elif request.query_params.keys() <= query_params_understood(type(self)):
            patch_cache_control(response, **public_cache_control())
        else:
            patch_cache_control(response, no_cache=True)
        return response


def media_file(request, path):
    """
    A public media file (the media library's renditions) answered by the app: the development server
    and the browser tests only (MEDIA_SERVED_BY_APP). Read from MEDIA_ROOT at each request, so that a
    test's own folder is the one served.
    """
    if not settings.MEDIA_SERVED_BY_APP:
        raise Http404("Media are served by the web server.")
    return serve(request, path, document_root=settings.MEDIA_ROOT)
