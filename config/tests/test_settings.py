"""The three settings modes, each imported fresh in a subprocess with exactly the environment it names."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "options": db.get("OPTIONS", {}), "conn_max_age": db.get("CONN_MAX_AGE"),
    "health_checks": db.get("CONN_HEALTH_CHECKS"),
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_options": settings.CACHES["default"].get("OPTIONS", {}),
    "eager": settings.CELERY_TASK_ALWAYS_EAGER, "broker": settings.CELERY_BROKER_URL,
    "private": str(settings.STORAGES["private"]["OPTIONS"]["location"]),
    "debug": settings.DEBUG, "crypto_key_set": bool(settings.CRYPTOGRAPHY_KEY),
    "hasher": settings.PASSWORD_HASHERS[0],
    "clamav_url": settings.CLAMAV_URL, "clamav_disabled": settings.CLAMAV_DISABLED,
    "public_media": settings.STORAGES["public_media"],
    "img_src": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"],
    "media_by_app": settings.MEDIA_SERVED_BY_APP,
}, default=str))
"""
SECRETS = {
    "DJANGO_SECRET_KEY": "prod-" + "k3y-Zx9!q" * 8,
    "FIELD_ENCRYPTION_KEY": "prod-field-encryption-key",
    "BLIND_INDEX_KEY": "prod-blind-index-key",
    "AUDIT_CHAIN_KEY": "prod-audit-chain-key",
    "DATABASE_URL": "postgres://app@db.internal:5432/indivillage",
    "CLAMAV_URL": "tcp://clamav:3310",
}


def _env(module: str, **extra) -> dict:
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": module,
        "VAR_DIR": os.environ.get("VAR_DIR", str(ROOT / "var")),
        **extra,
    }


def _probe(module: str, **extra) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=_env(module, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_embedded_mode_needs_no_environment():
    found = _probe("config.settings.local")
    assert found["engine"] == "django.db.backends.sqlite3"
    # One cache on disk for the dev server and every command (common/tests/test_embedded_cache.py).
    assert found["cache"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert found["eager"] is True and found["broker"] == ""
    assert found["private"].endswith("var/private")
    assert found["debug"] is True and found["crypto_key_set"] is True
    assert found["hasher"].endswith("BCryptSHA256PasswordHasher")


def test_env_switches_to_pooled_postgres_and_redis_failing_open():
    found = _probe(
        "config.settings.local",
        DATABASE_URL="postgres://app:pw@db.example:5432/indivillage",
        REDIS_URL="redis://cache.example:6379/1",
        DATABASE_POOL_MIN_SIZE="3",
        DATABASE_POOL_MAX_SIZE="7",
        DATABASE_POOL_TIMEOUT="2.5",
        DATABASE_SSLMODE="require",
    )
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["options"]["pool"] == {
        "min_size": 3,
        "max_size": 7,
        "timeout": 2.5,
        "max_lifetime": 1800.0,
        "max_idle": 300.0,
    }
    assert found["health_checks"] is False
    assert found["options"]["sslmode"] == "require"
    assert found["conn_max_age"] == 0
    assert found["cache"] == "django_redis.cache.RedisCache"
    assert found["cache_options"]["IGNORE_EXCEPTIONS"] is True
    assert found["cache_options"]["SOCKET_TIMEOUT"] <= 0.5
    assert found["eager"] is False and found["broker"] == "redis://cache.example:6379/1"


@pytest.mark.parametrize(
    ("module", "tier"),
    [
        ("config.settings.local", (5, 15)),
        ("config.settings.test", (3, 8)),
        ("config.settings.production", (20, 50)),
    ],
)
def test_each_environment_has_its_pool_tier_and_the_environment_overrides_it(module, tier):
    pool = _probe(module, **SECRETS)["options"]["pool"]
    assert (pool["min_size"], pool["max_size"]) == tier
    assert pool["max_lifetime"] == 1800.0 and pool["max_idle"] == 300.0
    tuned = _probe(
        module,
        **SECRETS,
        DATABASE_POOL_MIN_SIZE="2",
        DATABASE_POOL_MAX_SIZE="4",
        DATABASE_POOL_MAX_LIFETIME="600",
        DATABASE_POOL_MAX_IDLE="60",
        DATABASE_POOL_CHECK="true",
    )
    assert tuned["options"]["pool"] == {
        "min_size": 2,
        "max_size": 4,
        "timeout": 1.0,
        "max_lifetime": 600.0,
        "max_idle": 60.0,
    }
    assert tuned["health_checks"] is True


def test_production_with_its_secrets_is_not_debug():
    found = _probe("config.settings.production", **SECRETS)
    assert found["debug"] is False and found["engine"] == "django.db.backends.postgresql"


@pytest.mark.parametrize(
    "missing",
    ["DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "BLIND_INDEX_KEY", "AUDIT_CHAIN_KEY", "DATABASE_URL"],
)
def test_production_refuses_to_start_without_a_secret(missing):
    env = _env("config.settings.production", **{k: v for k, v in SECRETS.items() if k != missing})
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert f"{missing} must be set" in done.stderr


def test_production_passes_the_deploy_check_with_no_warning():
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env("config.settings.production", **SECRETS),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_production_refuses_to_start_without_a_virus_scanner():
    env = _env("config.settings.production", **{k: v for k, v in SECRETS.items() if k != "CLAMAV_URL"})
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: CLAMAV_URL must be set" in done.stderr
    assert "CLAMAV_DISABLED=true" in done.stderr


def test_production_starts_without_a_scanner_only_when_told_so_explicitly():
    without = {k: v for k, v in SECRETS.items() if k != "CLAMAV_URL"}
    found = _probe("config.settings.production", **without, CLAMAV_DISABLED="true")
    assert found["clamav_url"] == "" and found["clamav_disabled"] is True
    found = _probe("config.settings.production", **SECRETS)
    assert found["clamav_url"] == "tcp://clamav:3310" and found["clamav_disabled"] is False


def test_public_media_are_a_folder_of_their_own_or_a_public_s3_bucket():
    local = _probe("config.settings.production", **SECRETS)
    assert local["public_media"]["OPTIONS"]["location"].endswith("var/media")
    assert local["public_media"]["OPTIONS"]["location"] != local["private"]  # never beside the uploads
    assert local["media_by_app"] is False  # nginx serves them in production
    s3 = _probe(
        "config.settings.production",
        **SECRETS,
        PUBLIC_MEDIA_S3_BUCKET="indivillage-media",
        PUBLIC_MEDIA_S3_DOMAIN="media.indivillage.com",
    )
    assert s3["public_media"]["BACKEND"] == "storages.backends.s3.S3Storage"
    options = s3["public_media"]["OPTIONS"]
    assert (options["bucket_name"], options["custom_domain"]) == (
        "indivillage-media",
        "media.indivillage.com",
    )
    assert options["querystring_auth"] is False  # URLs in cached API pages must not expire
    assert "https://media.indivillage.com" in s3["img_src"]
    assert _probe("config.settings.local")["media_by_app"] is True
