"""
Suite-wide rules. A test marked `postgres` is skipped on SQLite; with REQUIRE_POSTGRES=1 (CI's second
run) the suite refuses to run on anything else, and every skip counts as a failure.
"""

import os

import pytest

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"

# `browser`, `page` and the screenshot of every browser test (real Chromium against the live server).
pytest_plugins = ["common.testing.browser"]


def pytest_sessionstart(session):
    if not REQUIRE_POSTGRES:
        return
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    cache = settings.CACHES["default"]["BACKEND"]
    if engine != "django.db.backends.postgresql" or "redis" not in cache:
        pytest.exit(
            f"REQUIRE_POSTGRES=1 but the database is {engine} and the cache {cache}: "
            "set DATABASE_URL and REDIS_URL.",
            returncode=3,
        )


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.conf import settings

        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
            pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if REQUIRE_POSTGRES and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, and REQUIRE_POSTGRES=1 allows no skip: {reason}"
    return report


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    """Each test writes uploads, backups and the media library's renditions under its own folder."""
    for name, folder, url in (
        ("private", "private", None),
        ("backups", "backups", None),
        ("public_media", "media", "/media/"),
    ):
        settings.STORAGES = {
            **settings.STORAGES,
            name: {
                **settings.STORAGES[name],
                "OPTIONS": {"location": str(tmp_path / folder), "base_url": url},
            },
        }
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _erasure_journal(settings, tmp_path):
    """Each test appends GDPR erasures to a journal of its own, never to the one in var/."""
    settings.ERASURE_JOURNAL_PATH = tmp_path / "erasure-journal.jsonl"


@pytest.fixture
def admin_client(db):
    """
    A Django test client logged in as a new admin (`client.admin`), for the admin's own pages. It
    replaces pytest-django's fixture of the same name, which logs in a superuser: here admins hold a role.
    """
    from django.test import Client

    from accounts.models import Role
    from accounts.tests.factories import UserFactory

    client = Client()
    client.admin = UserFactory(role=Role.ADMIN)
    client.force_login(client.admin)
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(params=[pytest.param("clamd", marks=pytest.mark.clamav), "builtin"])
def engine(request, settings):
    """
    Each virus scanner in turn: the real clamd of bin/clamd-test (a skip without it, a failure in CI),
    then the built-in stand-in of embedded mode. For sample uploads and the media library alike.
    """
    from uploads.scanning import clamd_ping

    clamd = "tcp://127.0.0.1:3310"
    if request.param == "clamd":
        if not clamd_ping(clamd, timeout=5):
            pytest.skip("no clamd answers PING on 127.0.0.1:3310: start clamd: bin/clamd-test")
        settings.CLAMAV_URL = clamd
    else:
        settings.CLAMAV_URL = ""
    return request.param
