"""
The public cache: whole JSON responses of the public read views, stored by content version, in the
manner of Django's own cache middleware. What stores, serves and retires a page: docs/performance.md,
"What retires the public cache", and the README's "Behind nginx".
"""

import hashlib
import secrets
import time
from functools import lru_cache
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db.models import Min, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import cc_delim_re, set_response_etag

VERSION_KEY = "content-version"
NEXT_PUBLISH_KEY = "content-next-publish"
_NO_SCHEDULE = 0
# Accept headers that every public view answers with the same plain JSON (its first renderer): one
# stored page serves them all. Any other value is a variant of its own, as `Vary: Accept` says.
_PLAIN_JSON_ACCEPTS = frozenset({"", "*/*", "application/json"})


# --- The content version -----------------------------------------------------------------------------


def _new_version() -> str:
    # Unique, not ordered: a version is only ever compared for equality, so clocks of different hosts
    # need not agree, and a restored database or a flushed cache can never bring an old one back.
    return f"{time.time_ns():x}{secrets.token_hex(4)}"


def content_version_bump() -> None:
    """
    Retires every stored public page. Run it on commit (transaction.on_commit), never inside the
    writing transaction: a page rendered before the commit would be stored under the new version.
    """
    cache.set_many({VERSION_KEY: _new_version(), NEXT_PUBLISH_KEY: None}, timeout=None)


def _next_publish_timestamp() -> float:
    """The next time a published row goes live or expires (a change no save announces), or 0 for none."""
    now = timezone.now()
    times = []
    for label in settings.PUBLIC_CACHE_SCHEDULED_MODELS:
        rows = apps.get_model(label).objects.filter(status="published")
        found = rows.aggregate(
            publish=Min("published_at", filter=Q(published_at__gt=now)),
            expire=Min("expires_at", filter=Q(expires_at__gt=now)),
        )
        times += [moment for moment in found.values() if moment]
    return min(times).timestamp() if times else _NO_SCHEDULE


def _version_from(values: dict) -> str | None:
    """The current version from a get_many() of VERSION_KEY and NEXT_PUBLISH_KEY, or None (cache down)."""
    version = values.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _new_version(), timeout=None)
        version = cache.get(VERSION_KEY)
        if version is None:
            return None
    next_publish = values.get(NEXT_PUBLISH_KEY)
    if next_publish is None:
        cache.set(NEXT_PUBLISH_KEY, _next_publish_timestamp(), timeout=None)
    elif next_publish != _NO_SCHEDULE and time.time() >= next_publish:
        # A scheduled row has gone live: one request wins the add and sets a new version.
        if cache.add(f"{NEXT_PUBLISH_KEY}:{next_publish}", 1, timeout=60):
            content_version_bump()
        version = cache.get(VERSION_KEY, version)
    return version


def content_version() -> str | None:
    """The current version, or None when the cache cannot be reached (then nothing is stored)."""
    return _version_from(cache.get_many([VERSION_KEY, NEXT_PUBLISH_KEY]))


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """
    A hash of the project's Python source, once per process. Stored pages carry it beside the content
    version, so that a deploy that changes what a serializer shows never serves pages of the old code,
    while processes of the same code (every worker, every host of one release) share their pages.
    """
    digest = hashlib.blake2b(digest_size=8)
    root = Path(settings.BASE_DIR)
    folders = [Path(config.path) for config in apps.get_app_configs()] + [root / "config"]
    for folder in sorted({f for f in folders if f.is_relative_to(root)}):
        for path in sorted(folder.rglob("*.py")):
            if {"tests", "migrations"}.isdisjoint(path.relative_to(folder).parts):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


# --- What public views send ---------------------------------------------------------------------------


def public_cache_control() -> dict:
    """The Cache-Control of public JSON, from settings (read per response, so tests and ops can tune it)."""
    return {
        "public": True,
        "max_age": settings.PUBLIC_CACHE_MAX_AGE,
        "s_maxage": settings.PUBLIC_CACHE_S_MAXAGE,
        "stale_while_revalidate": settings.PUBLIC_CACHE_STALE_WHILE_REVALIDATE,
    }


@lru_cache(maxsize=256)
def query_params_understood(view_class) -> frozenset[str]:
    """
    The query parameters a DRF view reads, from what its class declares: the format override, the
    pagination of a list, its filter backends' parameters (a FilterSet's filters, DRF's search and
    ordering) and a `query_serializer_class`. A parameter a view reads some other way is not known
    here, so its pages are not stored: safe, only slower.
    """
    from rest_framework.mixins import ListModelMixin

    view = view_class()
    names = {view.settings.URL_FORMAT_OVERRIDE}
    parameters = []
    if isinstance(view, ListModelMixin) and view.paginator is not None:
        parameters += view.paginator.get_schema_operation_parameters(view)
    for backend in (backend_class() for backend_class in getattr(view, "filter_backends", ())):
        if hasattr(backend, "get_filterset_class"):  # django-filter's, which no longer describes itself
            # No queryset: get_queryset() may need a request. A view with filterset_fields and no
            # filterset_class is therefore not known here, and its filtered pages are not stored.
            filterset_class = backend.get_filterset_class(view, None)
            names |= _filterset_params(filterset_class) if filterset_class else set()
        else:
            parameters += backend.get_schema_operation_parameters(view)
    names |= {parameter["name"] for parameter in parameters}
    query_serializer = getattr(view, "query_serializer_class", None)
    if query_serializer is not None:
        names |= set(query_serializer().fields)
    names.discard(None)
    return frozenset(names)


def _filterset_params(filterset_class) -> set[str]:
    names = set()
    for name, filter_ in filterset_class.base_filters.items():
        # A range filter reads name_min and name_max (django-filter's SuffixedMultiWidget).
        suffixes = getattr(filter_.field.widget, "suffixes", None)
        names |= {f"{name}_{suffix}" if suffix else name for suffix in suffixes} if suffixes else {name}
    return names


# --- The middleware -----------------------------------------------------------------------------------


def _is_public(response) -> bool:
    directives = {
        d.strip().split("=")[0].lower() for d in cc_delim_re.split(response.get("Cache-Control", ""))
    }
    return "public" in directives and not directives & {"private", "no-store", "no-cache"}


def _varies_only_on_accept(response) -> bool:
    vary = {h.strip().lower() for h in cc_delim_re.split(response.get("Vary", "")) if h.strip()}
    return vary <= {"accept"}


def _has_credentials(request) -> bool:
    return "HTTP_AUTHORIZATION" in request.META or settings.SESSION_COOKIE_NAME in request.COOKIES


class _Lookup:
    """What one cache round trip found for a request: the version, the key, and the stored page if any."""

    __slots__ = ("version", "key", "stored")

    def __init__(self, request):
        accept = request.META.get("HTTP_ACCEPT", "")
        variant = "json" if accept in _PLAIN_JSON_ACCEPTS else accept
        self.key = (
            "page:"
            + hashlib.blake2b(f"{request.get_full_path()}\n{variant}".encode(), digest_size=16).hexdigest()
        )
        # `Cache-Control: no-cache` asks for a fresh answer: the view runs, and its page is stored.
        fresh = "no-cache" in request.META.get("HTTP_CACHE_CONTROL", "")
        values = cache.get_many([VERSION_KEY, NEXT_PUBLISH_KEY] + ([] if fresh else [self.key]))
        self.version = _version_from(values)
        if self.version is not None:
            self.version = f"{self.version}:{code_fingerprint()}"
        stored = values.get(self.key)
        self.stored = stored if stored is not None and stored[0] == self.version else None

    def response(self) -> HttpResponse:
        _, headers, body = self.stored
        return HttpResponse(body, headers=headers)


class PublicCacheMiddleware:
    """
    Answers GET and HEAD requests under PUBLIC_CACHE_PATH_PREFIX from the stored page of the current
    version, before the session, authentication, CSRF and message middleware (they have nothing to add
    to a public page); on a miss the request goes on down the chain, and process_response stores what
    the view marked public. Sits below the security, request-id and X-Frame-Options middleware and
    below ConditionalGetMiddleware, so that hits and misses get the same headers and the same 304s.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        lookup = self.process_request(request)
        if lookup is not None and lookup.stored is not None:
            return lookup.response()
        # A page filled into the cache is read from the primary (ReplicaPinMiddleware): stored from a
        # lagging replica, it would be served to everyone long after the replica caught up.
        fill = lookup is not None and lookup.version is not None
        request.public_cache_fill = fill
        response = self.get_response(request)
        if fill:
            self.process_response(request, response, lookup)
        return response

    def process_request(self, request) -> _Lookup | None:
        # Public pages are the same for everyone, and public views read no credentials: a request that
        # carries some is for a private page (or reads a public one uncached, from the replica if any).
        if (
            request.method not in ("GET", "HEAD")
            or not request.path_info.startswith(settings.PUBLIC_CACHE_PATH_PREFIX)
            or _has_credentials(request)
        ):
            return None
        request.get_host()  # DisallowedHost (400) for a host not in ALLOWED_HOSTS, as for any page
        return _Lookup(request)

    def process_response(self, request, response, lookup: _Lookup) -> None:
        if (
            request.method != "GET"
            or response.status_code != 200
            or response.streaming
            or response.cookies
            or not _is_public(response)
            or not _varies_only_on_accept(response)
        ):
            return
        # The ETag ConditionalGetMiddleware would set on the way out; set here, it is stored with the page.
        set_response_etag(response)
        cache.set(lookup.key, (lookup.version, list(response.items()), response.content))


# --- Warming --------------------------------------------------------------------------------------------


def _warm_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host != "*":
            return host.lstrip(".")
    return "localhost"


def public_cache_warm(paths, progress=None) -> dict[str, int]:
    """
    Fills the public cache for `paths` by sending each through Django's request handler in-process
    (the whole middleware chain, as a visitor's request), so the first visitors after a deploy or a
    publish are served from the cache. Returns how many pages were stored and how many were not.
    """
    from django.core.handlers.base import BaseHandler
    from django.test import RequestFactory

    handler = BaseHandler()
    handler.load_middleware()
    factory = RequestFactory(SERVER_NAME=_warm_host())
    counts = {"warmed": 0, "failed": 0}
    for path in paths:
        # Fresh (no-cache): a page still stored under the current version is rendered and stored again.
        request = factory.get(
            path, secure=True, HTTP_ACCEPT="application/json", HTTP_CACHE_CONTROL="no-cache"
        )
        response = handler.get_response(request)
        stored = response.status_code == 200 and _is_public(response)
        counts["warmed" if stored else "failed"] += 1
        if progress:
            progress.advance()
    return counts
