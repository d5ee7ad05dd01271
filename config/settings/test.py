"""The test suite: embedded defaults, or PostgreSQL and Redis when DATABASE_URL and REDIS_URL are set."""

from .base import *  # noqa: F403
from .base import CACHES, DATABASES, VAR_DIR, databases, env

DATABASE_POOL_TIER = "test"
databases.pool_tier_apply(env, DATABASES, DATABASE_POOL_TIER)

# The media library's renditions from the app itself (nginx serves them in production).
MEDIA_SERVED_BY_APP = True
ENVIRONMENT = "test"
DEBUG = False
SECRET_KEY = "test-secret-key-that-is-long-enough-and-never-used-outside-the-test-suite"
FIELD_ENCRYPTION_KEY = "test-field-encryption-key"
CRYPTOGRAPHY_KEY = FIELD_ENCRYPTION_KEY
BLIND_INDEX_KEY = "test-blind-index-key"
AUDIT_CHAIN_KEY = "test-audit-chain-key"
ALLOWED_HOSTS = ["*"]
# Hashing cost is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run in-process so tests see their effects; the broker setting itself is tested in test_settings.
CELERY_TASK_ALWAYS_EAGER = True
if CACHES["default"]["BACKEND"].endswith("FileBasedCache"):
    # One in-process cache per test run: the shared file cache of the embedded mode is tested on its own
    # (common/tests/test_embedded_cache.py), and tests must not see each other's or the dev server's.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "test"}}
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="indivillage-test")
TEST_VAR_DIR = VAR_DIR / "test"
MEDIA_ROOT = TEST_VAR_DIR / "media"
PRIVATE_ROOT = TEST_VAR_DIR / "private"
STORAGES = {
    **STORAGES,  # noqa: F405
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_ROOT), "base_url": None},
    },
    "backups": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(TEST_VAR_DIR / "backups"), "base_url": None},
    },
    "public_media": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/media/"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Transactional tests empty every table with TRUNCATE between tests; the audit log's guard lets a
# connection through only when it says so (audit/chain.py). Application connections never do.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"]["OPTIONS"]["options"] = "-c audit.allow_truncate=on"  # noqa: F405

# The replica routing is tested against a second real database standing in for the replica (not a TEST
# MIRROR, which would make the two indistinguishable): on PostgreSQL the same server with `_replica`
# after the name, on SQLite a second file (in memory under test). Its test database is created only when
# a collected test asks for the alias. The router and its middleware are switched on by the tests that
# exercise them (ops/tests/test_replica.py); on for the whole suite, every test would need the alias.
DATABASE_ROUTERS = []
DATABASES["replica"] = {  # noqa: F405
    **DATABASES["default"],  # noqa: F405
    "NAME": f"{DATABASES['default']['NAME']}_replica",  # noqa: F405
    "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),  # noqa: F405
    "TEST": {},
}
MIDDLEWARE = [m for m in MIDDLEWARE if m != "ops.middleware.ReplicaPinMiddleware"]  # noqa: F405
