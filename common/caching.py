"""
Public GET responses, cached whole and keyed by a content version.

Every content or impact write bumps the version on commit, which retires every cached page at once;
no key lists to maintain. Bulk paths that send no signal (seed_demo, restore_db, apply_retention,
erasure) bump it themselves. Only query strings the view understands are stored
(query_params_understood): any other parameter would make a new entry per value. Rows scheduled to go live need no write: the earliest future publication time
is remembered beside the version, and the first request after it bumps the version itself.

The ETag is derived from the version and the URL alone, so `If-None-Match` is answered 304 from one
cache read, without running the view or touching the database. With the cache down every read falls
through to the view: 200, uncached, no ETag.
"""

import hashlib
import time
from functools import lru_cache, wraps

from django.apps import apps
from django.core.cache import cache
from django.db import connections, transaction
from django.db.models import Min
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import Resolver404, get_resolver, get_urlconf
from django.utils import timezone
from django.utils.cache import patch_vary_headers

VERSION_KEY = "content-version"
NEXT_PUBLISH_KEY = "content-next-publish"
# Models whose published_at can schedule a change of the public site.
SCHEDULED_MODELS = ("content.Service", "content.CaseStudy", "impact.ImpactStory")
_NO_SCHEDULE = 0


def _next_publish_timestamp() -> float:
    now = timezone.now()
    times = []
    for label in SCHEDULED_MODELS:
        model = apps.get_model(label)
        found = model.objects.filter(status="published", published_at__gt=now).aggregate(
            t=Min("published_at")
        )
        if found["t"]:
            times.append(found["t"])
    return min(times).timestamp() if times else _NO_SCHEDULE


def _fresh_version() -> int:
    """
    Where a lost version key starts again (a new cache, a flush, an eviction): the clock in nanoseconds.
    Every bump is a cache round trip, far longer than a nanosecond, so the counter can never have run
    ahead of this clock: the number is above every version issued before, and no ETag a client holds
    can match it. (Milliseconds could be outrun: one transaction saving a thousand rows bumps a
    thousand times on commit.)
    """
    return time.time_ns()


def content_version_bump() -> None:
    """
    Retires every cached public page. Run it on commit, never inside the writing transaction. The
    version lives in the cache, not the database, so a restored database cannot bring an old one back.
    """
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, _fresh_version(), timeout=None)
    cache.delete(NEXT_PUBLISH_KEY)


def _version_from(values: dict) -> int | None:
    """The current version from a get_many() of VERSION_KEY and NEXT_PUBLISH_KEY (plus anything else)."""
    version = values.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, _fresh_version(), timeout=None)
        version = cache.get(VERSION_KEY)
        if version is None:
            return None
    next_publish = values.get(NEXT_PUBLISH_KEY)
    if next_publish is None:
        cache.set(NEXT_PUBLISH_KEY, _next_publish_timestamp(), timeout=None)
    elif next_publish != _NO_SCHEDULE and time.time() >= next_publish:
        # A scheduled row has gone live: only one request wins the add and bumps.
        if cache.add(f"{NEXT_PUBLISH_KEY}:{next_publish}", 1, timeout=60):
            content_version_bump()
            cache.set(NEXT_PUBLISH_KEY, _next_publish_timestamp(), timeout=None)
        version = cache.get(VERSION_KEY, version)
    return version


def content_version() -> int | None:
    """The current version, or None when the cache cannot be reached (then nothing is cached)."""
    return _version_from(cache.get_many([VERSION_KEY, NEXT_PUBLISH_KEY]))


def _bump_on_commit(**kwargs) -> None:
    transaction.on_commit(content_version_bump)


def connect_content_invalidation(app_label: str) -> None:
    """
    Every save, delete and relation change of the app's models retires the public cache after commit,
    whichever path made it (services, the admin, a shell). Paths that send no signal call
    content_version_bump themselves on commit: seed_demo, restore_db, apply_retention and erasure
    (docs/performance.md lists them).
    """
    for model in apps.get_app_config(app_label).get_models():
        uid = f"content-cache:{model._meta.label}"
        post_save.connect(_bump_on_commit, sender=model, dispatch_uid=uid + ":save", weak=False)
        post_delete.connect(_bump_on_commit, sender=model, dispatch_uid=uid + ":delete", weak=False)
        for field in model._meta.local_many_to_many:
            m2m_changed.connect(
                _bump_on_commit,
                sender=field.remote_field.through,
                dispatch_uid=uid + f":{field.name}",
                weak=False,
            )


def _wants_json(request) -> bool:
    # The browsable API (HTML) is for developers: never cached, never given a shared ETag.
    fmt = request.GET.get("format")
    if fmt:
        return fmt == "json"
    return "text/html" not in request.META.get("HTTP_ACCEPT", "")


class _Lookup:
    """What one cache round trip found for a request: the version, the ETag, and a response if any."""

    __slots__ = ("version", "key", "etag", "response")

    def __init__(self, request):
        digest = hashlib.blake2b(request.get_full_path().encode(), digest_size=12).hexdigest()
        self.key = f"page:{digest}"
        if_none_match = request.META.get("HTTP_IF_NONE_MATCH", "")
        # `Cache-Control: no-cache` asks for a fresh answer: the view runs, and its result is stored.
        fresh = "no-cache" in request.META.get("HTTP_CACHE_CONTROL", "")
        # One round trip: the version, the schedule, and the page stored as (version, body).
        wanted = [VERSION_KEY, NEXT_PUBLISH_KEY] + ([] if fresh or if_none_match else [self.key])
        values = cache.get_many(wanted)
        self.version = _version_from(values)
        self.etag = f'"{self.version}-{digest}"' if self.version is not None else None
        self.response = None
        if self.version is None:
            return
        if self.etag in if_none_match:
            self.response = HttpResponseNotModified()
        else:
            stored = values.get(self.key)
            if stored is not None and stored[0] == self.version:
                self.response = HttpResponse(stored[1], content_type="application/json")
        if self.response is not None:
            _stamp(self.response, self.etag)


def _stamp(response, etag: str) -> None:
    # A 304 carries the validators and caching headers its 200 would (RFC 9110, 15.4.5).
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=0, must-revalidate"
    patch_vary_headers(response, ["Accept"])


def _with_length(response):
    # What CommonMiddleware adds, which the pages served by PublicCacheMiddleware skip: without it a
    # server sends the body chunked. A 304 has no body of its own to measure.
    if response.status_code != 304 and not response.streaming and not response.has_header("Content-Length"):
        response["Content-Length"] = str(len(response.content))
    return response


def _cacheable(request) -> bool:
    return request.method in ("GET", "HEAD") and _wants_json(request)


@lru_cache(maxsize=256)
def query_params_understood(view) -> frozenset[str]:
    """
    The query parameters a public_cache view reads, from what its DRF class declares: the format
    override, the pagination of a list, its filter backends' parameters (a FilterSet's filters, DRF's
    search and ordering) and a `query_serializer_class`. The class is asked, the view never called.
    Anything a view reads some other way is not known here, so it skips the cache: safe, only slower.
    """
    from rest_framework.mixins import ListModelMixin
    from rest_framework.views import APIView

    view_class = getattr(view, "view_class", None)  # set by as_view(), kept by public_cache's wraps()
    if view_class is None or not issubclass(view_class, APIView):
        return frozenset()
    instance = view_class(**getattr(view, "view_initkwargs", {}))
    names = {instance.settings.URL_FORMAT_OVERRIDE}
    parameters = []
    if isinstance(instance, ListModelMixin) and instance.paginator is not None:
        parameters += instance.paginator.get_schema_operation_parameters(instance)
    for backend in (backend_class() for backend_class in getattr(instance, "filter_backends", ())):
        if hasattr(backend, "get_filterset_class"):  # django-filter's, which no longer describes itself
            # No queryset: get_queryset() may need a request. A view with filterset_fields and no
            # filterset_class is therefore not known here, and its filtered requests skip the cache.
            filterset_class = backend.get_filterset_class(instance, None)
            names |= _filterset_params(filterset_class) if filterset_class else set()
        else:
            parameters += backend.get_schema_operation_parameters(instance)
    names |= {parameter["name"] for parameter in parameters}
    query_serializer = getattr(instance, "query_serializer_class", None)
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


def _understood(view, request) -> bool:
    """
    Whether every query parameter is one the view reads. Any other (`?junk=...`, a cache buster) cannot
    change the page, yet each distinct value would be a new entry: such a request is served, not stored.
    """
    return request.GET.keys() <= query_params_understood(view)


def public_cache(view):
    """Caches a public GET view's JSON responses by content version and URL, with ETag and 304."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        # PublicCacheMiddleware has usually looked already; called directly (warm_cache), look now.
        lookup = getattr(request, "_public_cache", None)
        if lookup is None:
            if not (_cacheable(request) and _understood(wrapped, request)):
                return view(request, *args, **kwargs)
            lookup = _Lookup(request)
        if lookup.version is None:
            return view(request, *args, **kwargs)
        if lookup.response is not None:
            return lookup.response
        response = view(request, *args, **kwargs)
        if hasattr(response, "render"):
            response.render()
        if response.status_code != 200 or not response.get("Content-Type", "").startswith("application/json"):
            return response
        cache.set(lookup.key, (lookup.version, response.content))
        _stamp(response, lookup.etag)
        return response

    wrapped.public_cache = True
    return wrapped


@lru_cache(maxsize=1024)
def _public_cache_match(resolver, path: str):
    """The ResolverMatch of a public_cache view at `path`, or None."""
    # Django resolves the path again for the view; resolving it here as well took about 0.05 ms, an
    # eighth of a cache hit (docs/performance.md). Keyed by the resolver, which Django replaces when
    # the URLconf setting changes; the routes themselves are fixed for the life of the process.
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return None
    return match if getattr(match.func, "public_cache", False) else None


class PublicCacheMiddleware:
    """
    Serves public_cache views (public JSON, the same for everyone) before the session, authentication,
    CSRF and message middleware: none of them has anything to add to such a page. A hit or a 304 is
    answered from the cache; a miss that will be stored calls the view here, as Django's handler would,
    so hits and misses go out through the same middleware with the same headers. Placed after the
    security, request-id and X-Frame-Options middleware, so their headers are still on every answer;
    the Host header is still validated.

    A miss with the cache down goes on down the whole chain: nothing will be stored, and with a read
    replica the pin middleware routes its reads as for any other page.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        # A view that must run in a transaction is left to Django's handler, which knows how.
        self.call_views = not any(db["ATOMIC_REQUESTS"] for db in connections.settings.values())

    def __call__(self, request):
        if not (request.path_info.startswith("/api/") and _cacheable(request)):
            return self.get_response(request)
        match = _public_cache_match(get_resolver(get_urlconf()), request.path_info)
        if match is None or not _understood(match.func, request):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (400) for a host not in ALLOWED_HOSTS, as CommonMiddleware would
        lookup = _Lookup(request)
        if lookup.response is not None:
            return _with_length(lookup.response)
        request._public_cache = lookup
        if lookup.version is None or not self.call_views:
            return self.get_response(request)
        # Exceptions propagate to the handler's converter around this middleware, as from the chain.
        request.resolver_match = match
        return _with_length(match.func(request, *match.args, **match.kwargs))


def cache_warm(paths, progress=None) -> dict[str, int]:
    """
    Fills the public cache for `paths` by calling their views in-process (no HTTP, no middleware), so
    the first visitors after a deploy or a publish are served from the cache.
    """
    from urllib.parse import urlsplit

    from django.test import RequestFactory
    from django.urls import resolve

    factory = RequestFactory()
    counts = {"warmed": 0, "failed": 0}
    for path in paths:
        match = resolve(urlsplit(path).path)
        response = match.func(factory.get(path, HTTP_ACCEPT="application/json"), *match.args, **match.kwargs)
        counts["warmed" if response.status_code == 200 else "failed"] += 1
        if progress:
            progress.advance()
    return counts
