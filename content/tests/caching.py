"""A probe for tests that a write path retires the public cache (common.caching)."""

from common.caching import content_version_bump
from content.models import Service

from .factories import ServiceFactory

PATH = "/api/v1/services/"


def _names(client) -> set[str]:
    return {service["name"] for service in client.get(PATH).json()["results"]}


def public_cache_retired_by(client, action, capture_on_commit) -> bool:
    """
    Stores the services list, renames a service behind the cache's back (a queryset update, which no
    service sees), runs `action` and its on-commit callbacks, and says whether the list now shows the new
    name, i.e. whether `action` retired the stored page.
    """
    probe = ServiceFactory(name="Cache probe before", slug="cache-probe")
    content_version_bump()  # a factory is no service: the list is rendered again with the probe
    assert "Cache probe before" in _names(client)
    Service.objects.filter(pk=probe.pk).update(name="Cache probe after")
    assert "Cache probe before" in _names(client), "the list was not served from the cache"
    with capture_on_commit(execute=True):
        action()
    return "Cache probe after" in _names(client)
