"""
Settings shared by every mode. All configuration comes from the environment (django-environ).

With no environment the project runs embedded: SQLite, a file cache, eager Celery and local files under
var/. DATABASE_URL switches to pooled PostgreSQL, REDIS_URL to Redis for the cache and the Celery broker.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE

from . import databases

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# "local", "test" or "production": commands that must never run against production data read it.
ENVIRONMENT = "base"

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Before django.contrib.auth: its `changepassword` command replaces Django's (tokens revoked, audited).
    "accounts",
    # django.contrib.admin with the project's AdminSite (config/admin.py).
    "config.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Search (content.search) and its GIN indexes: lookups and index wrappers it registers on start-up;
    # nothing of it runs on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's JS/CSS as static files of the project: /api/docs/ works without internet.
    "drf_spectacular_sidecar",
    "django_countries",
    # The rich text editor of the admin (common.richtext), its JS and CSS as static files.
    "django_prose_editor",
    # Revisions of services, case studies and impact stories (content.revisions).
    "reversion",
    "django_celery_beat",
    "csp",
    "common",
    "content",
    "impact",
    "submissions",
    "uploads",
    "audit",
    "compliance",
    "ops",
]

MIDDLEWARE = [
    # First: /healthz and /readyz answer whatever Host the orchestrator sends (ops/probes.py).
    "ops.probes.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Above the public cache, so that its stored answers carry both policies too.
    "csp.middleware.CSPMiddleware",
    "common.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "common.middleware.RequestContextMiddleware",
    # Above the public cache, so its answers carry the header too.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # ETags and 304s for hits and misses alike: above the public cache, which stores pages with theirs.
    "django.middleware.http.ConditionalGetMiddleware",
    # Public API pages are answered from the cache here, before sessions, auth, CSRF and messages, which
    # have nothing to add to them; a miss goes on down the chain and is stored on the way out.
    "common.caching.PublicCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "common.middleware.EditorTimeZoneMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------------

# Pooled PostgreSQL: config/settings/databases.py, with the pool's tier per environment (development
# here; test.py and production.py set theirs).
DATABASE_POOL_TIER = "development"


def database_config(url: str, tier: str = DATABASE_POOL_TIER) -> dict:
    return databases.database_config(env, url, tier)


DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": database_config(DATABASE_URL)}
else:
    # The embedded database lives in var/, which a fresh clone does not have yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # WAL lets the dev server read while a command writes.
            "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"},
        }
    }

# A streaming replica of DATABASE_URL: reads go there, writes and read-your-writes to the primary
# (ops/routers.py, docs/database.md). The pin middleware is added with it, before the sessions.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    if not DATABASE_URL:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DATABASE_REPLICA_URL needs DATABASE_URL: a replica of what?")
    DATABASES["replica"] = database_config(DATABASE_REPLICA_URL)
    DATABASE_ROUTERS = ["ops.routers.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "ops.middleware.ReplicaPinMiddleware",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]

# --- Cache ------------------------------------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="indivillage")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=600),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # A cache outage must never take the site down: short timeouts, errors swallowed.
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("REDIS_TIMEOUT", default=0.25),
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # Embedded: files under var/, so the development server and every manage.py command share one cache
    # (the public pages' content version above all) with no service to start.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=600),
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

# The public API's pages (common/caching.py, docs/performance.md). Browsers revalidate every time (a
# 304 from the nearest cache); shared caches (nginx, a CDN) keep a page S_MAXAGE seconds, so a publish
# shows through them within that, and may serve it stale while they fetch it again in the background.
PUBLIC_CACHE_PATH_PREFIX = "/api/"
PUBLIC_CACHE_MAX_AGE = env.int("PUBLIC_CACHE_MAX_AGE", default=0)
PUBLIC_CACHE_S_MAXAGE = env.int("PUBLIC_CACHE_S_MAXAGE", default=10)
PUBLIC_CACHE_STALE_WHILE_REVALIDATE = env.int("PUBLIC_CACHE_STALE_WHILE_REVALIDATE", default=30)
# Models whose published_at can schedule a change of the public site without a write.
PUBLIC_CACHE_SCHEDULED_MODELS = ["content.Service", "content.CaseStudy", "impact.ImpactStory"]
# The lists whose first page is rendered into the cache after a publish (PUBLIC_CACHE_WARM_AFTER_PUBLISH).
PUBLIC_CACHE_WARM_URL_NAMES = [
    "service-list",
    "industry-list",
    "case-study-list",
    "location-list",
    "impact-story-list",
    "impact-metric-summary",
]

# --- Celery -----------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# With no broker the tasks run in-process, so the embedded mode needs no other service.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
# After every write of content.publishing a task renders the first page of PUBLIC_CACHE_WARM_URL_NAMES and
# the row's own page into the cache. Off without a broker: the task would run inside the editor's request.
PUBLIC_CACHE_WARM_AFTER_PUBLISH = env.bool(
    "PUBLIC_CACHE_WARM_AFTER_PUBLISH", default=not CELERY_TASK_ALWAYS_EAGER
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=25 * 60)
# The longest countdown a retry waits (common.tasks.RetryingTask's backoff is capped here).
TASK_RETRY_BACKOFF_MAX = env.int("TASK_RETRY_BACKOFF_MAX", default=10 * 60)
# Redis redelivers a message not acked within the visibility timeout, to another worker, even if the first
# is still running it; a retry's countdown counts too (the worker holds the message unacked until its eta).
# So it must outlast the longest hard time limit plus the longest countdown; docs/uploads.md, "Reliability".
CELERY_VISIBILITY_TIMEOUT = env.int(
    "CELERY_VISIBILITY_TIMEOUT", default=CELERY_TASK_TIME_LIMIT + TASK_RETRY_BACKOFF_MAX + 5 * 60
)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task queued from a request (a lead form, an upload) must not hold the visitor while the broker is
# down: the row is stored and the sweep queues it later. So one connection attempt of at most
# CELERY_BROKER_CONNECT_TIMEOUT, and one immediate retry (a pooled connection that Redis closed on a
# restart fails once, harmlessly, and the retry reconnects), instead of Celery's 3 retries 0.2 s apart.
CELERY_BROKER_CONNECT_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=0.05)
CELERY_BROKER_CONNECTION_TIMEOUT = CELERY_BROKER_CONNECT_TIMEOUT
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": CELERY_BROKER_CONNECT_TIMEOUT,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": env.int("CELERY_PUBLISH_MAX_RETRIES", default=1),
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
# DatabaseScheduler (schedule editable in the admin) plus a heartbeat readiness reads: ops/beat.py.
CELERY_BEAT_SCHEDULER = "ops.beat:HeartbeatScheduler"
CELERY_TIMEZONE = "UTC"

# --- Files ------------------------------------------------------------------------------------------

MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
PRIVATE_ROOT = VAR_DIR / "private"
STATIC_ROOT = VAR_DIR / "static"
STATIC_URL = "/static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Client uploads and analysis documents: never under MEDIA_ROOT, never served by the web server.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(PRIVATE_ROOT), "base_url": None},
    },
    "backups": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "backups"), "base_url": None},
    },
    # The media library's renditions (content.images): public, served by nginx under MEDIA_URL, never
    # beside the private files above.
    "public_media": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Public media go to S3 when a bucket is named: readable by anyone, no signed URLs (they would expire in
# cached API pages), under PUBLIC_MEDIA_S3_DOMAIN (a CDN) when set.
PUBLIC_MEDIA_S3_BUCKET = env.str("PUBLIC_MEDIA_S3_BUCKET", default="")
if PUBLIC_MEDIA_S3_BUCKET:
    STORAGES["public_media"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PUBLIC_MEDIA_S3_BUCKET,
            "location": env.str("PUBLIC_MEDIA_S3_PREFIX", default="media"),
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "custom_domain": env.str("PUBLIC_MEDIA_S3_DOMAIN", default="") or None,
            "querystring_auth": False,
            "file_overwrite": False,
        },
    }
# Whether the app itself answers MEDIA_URL (common.views.media_file): in development and the browser
# tests; in production nginx serves the public media volume and the app never does.
MEDIA_SERVED_BY_APP = False
# The media library (content.images): what an upload may be, and the widths of the renditions made.
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=25 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_RENDITION_WIDTHS = tuple(env.list("IMAGE_RENDITION_WIDTHS", cast=int, default=[400, 1200]))
# Backups go to S3 when a bucket is named (django-storages; credentials from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY or the instance's role). Private objects, encrypted at rest, never overwritten.
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
if BACKUP_S3_BUCKET:
    STORAGES["backups"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BACKUP_S3_BUCKET,
            "location": env.str("BACKUP_S3_PREFIX", default="backups"),
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "default_acl": "private",
            "file_overwrite": False,
            "object_parameters": {"ServerSideEncryption": "AES256"},
        },
    }

# --- Security and secrets ---------------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Field encryption. The encrypted fields use common.encryption's keyring, which reads FIELD_ENCRYPTION_KEY
# (and signs with it, not with SECRET_KEY). CRYPTOGRAPHY_KEY is still set because django_cryptography
# derives its own default key at import, falling back to SECRET_KEY otherwise.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
CRYPTOGRAPHY_KEY = FIELD_ENCRYPTION_KEY or None
# Keys used before FIELD_ENCRYPTION_KEY: still read, never written. Kept until `rotate_encryption_key`
# has rewritten every row under the current key (docs/compliance.md).
FIELD_ENCRYPTION_OLD_KEYS = env.list("FIELD_ENCRYPTION_OLD_KEYS", default=[])
# Earlier SECRET_KEYs: sessions, signed cookies and password-reset links made with them still verify.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
# The blind index (keyed HMAC of normalised e-mails) has its own key so either can rotate alone.
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="")
# Keys the HMAC of the audit log's hash chain: without it, someone who can write to the database still
# cannot forge a row that verifies. Unlike the keys above it is never rotated (old rows would no longer
# verify); it lives with the other secrets, never in the database.
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="")

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Internationalisation ---------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# The admin's time zone (common.middleware.EditorTimeZoneMiddleware): the editors work in India. Times
# are stored in UTC and the API answers in UTC whatever this says.
EDITOR_TIME_ZONE = env.str("EDITOR_TIME_ZONE", default="Asia/Kolkata")

# --- API --------------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "common.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Tokens for API clients; sessions (with CSRF) for the browsable API.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "common.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Closed by default: every public view opens itself explicitly.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "common.renderers.JSONRenderer",  # orjson
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # DRF's three, with the project's JSON parser: a deeply nested body is a 400, not a 500.
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "common.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
REST_KNOX = {
    # Tokens are stored as SHA-512 digests; the client alone holds the token itself.
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=10)),
    "TOKEN_LIMIT_PER_USER": 20,
    "AUTO_REFRESH": False,
}
# Proxies whose X-Forwarded-For is believed (their addresses). Empty: the socket address is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
SPECTACULAR_SETTINGS = {
    "TITLE": "IndiVillage API",
    "DESCRIPTION": "Services, case studies, impact stories, lead forms and sample-data uploads.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "common.schema.add_error_responses",
    ],
    # Served from drf_spectacular_sidecar's static files, not a CDN (offline sites, and a CSP of 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Content-Security-Policy and Permissions-Policy (django-csp; common.middleware) -------------------
# In every mode, not only production: the browser tests run the admin and Swagger UI under the very
# policy production sends, so a page that needs more than it allows fails a test, not a deployment.
# Scripts only from the site itself (no inline script but the rich text editor's import map, with a
# per-request nonce; no eval): the admin has none other, and Swagger UI's
# init script is a file of its own (SpectacularSwaggerSplitView). Styles allow 'unsafe-inline': the
# admin's templates and Swagger UI set style attributes, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # A nonce only on pages that ask for one (the admin's rich text editor's import map).
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        # Swagger UI draws some icons as data: SVG.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
if PUBLIC_MEDIA_S3_BUCKET:
    # The admin's thumbnails come from the media bucket, or its CDN, when the library lives in S3.
    _domain = env.str("PUBLIC_MEDIA_S3_DOMAIN", default="") or f"{PUBLIC_MEDIA_S3_BUCKET}.s3.amazonaws.com"
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"https://{_domain}")
# Browser features the site never uses, denied to it and to anything it might embed.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
        "xr-spatial-tracking",
    )
)

# --- Business settings ------------------------------------------------------------------------------

SALES_INBOX = env.str("SALES_INBOX", default="sales@indivillage.com")
# Seconds a lead form may sit `processing` before the beat sweep queues it again: longer than a live task
# holds one (CELERY_TASK_TIME_LIMIT plus one retry's countdown, TASK_RETRY_BACKOFF_MAX): checked at startup.
SUBMISSION_PROCESSING_STALE_AFTER = env.int("SUBMISSION_PROCESSING_STALE_AFTER", default=45 * 60)
# Seconds a lead form may sit `submitted` (queued, never picked up: the broker lost the task) before the
# sweep queues it again. One the broker refused outright is queued by the next sweep whatever its age.
SUBMISSION_STALE_AFTER = env.int("SUBMISSION_STALE_AFTER", default=10 * 60)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="no-reply@indivillage.com")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
FIRST_ADMIN_EMAIL = env.str("FIRST_ADMIN_EMAIL", default="")
FIRST_ADMIN_PASSWORD = env.str("FIRST_ADMIN_PASSWORD", default="")
CLAMAV_URL = env.str("CLAMAV_URL", default="")
# Production refuses to start without CLAMAV_URL unless this says, on purpose, that no clamd is wanted;
# /readyz then reports the scanner as disabled (warn).
CLAMAV_DISABLED = env.bool("CLAMAV_DISABLED", default=False)
APP_VERSION = env.str("APP_VERSION", default="0.1.0")

# The newest revisions of each content item that retention never deletes, however old
# (compliance/retention.py, "revisions").
REVISIONS_KEEP = env.int("REVISIONS_KEEP", default=50)
RETENTION = {
    "users_inactive": timedelta(days=env.int("RETENTION_USERS_INACTIVE_DAYS", default=730)),
    "uploads": timedelta(days=env.int("RETENTION_UPLOADS_DAYS", default=365)),
    "submissions": timedelta(days=env.int("RETENTION_SUBMISSIONS_DAYS", default=730)),
    # The legal period the archive of purged submissions is kept (compliance.archive).
    "submission_archives": timedelta(days=env.int("RETENTION_SUBMISSION_ARCHIVES_DAYS", default=7 * 365)),
    "audit": timedelta(days=env.int("RETENTION_AUDIT_DAYS", default=7 * 365)),
    "soft_deleted": timedelta(days=env.int("RETENTION_SOFT_DELETED_DAYS", default=90)),
    "revisions": timedelta(days=env.int("RETENTION_REVISIONS_DAYS", default=365)),
}
# One JSON line per GDPR erasure (ids and hashes only), outside the database: a restore from a backup
# taken before an erasure loses its ErasureRecord, and `replay_erasures` reads this file to redo it.
# Keep it on storage that is not restored with the database, and back it up separately.
ERASURE_JOURNAL_PATH = Path(env.str("ERASURE_JOURNAL_PATH", default=str(VAR_DIR / "erasure-journal.jsonl")))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print every line twice beside the root one.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django_redis": {"level": "WARNING"},
    },
}

# --- Lead forms -------------------------------------------------------------------------------------

# Submissions allowed per client address and per e-mail address (the three forms together) in each
# fixed window of LEAD_FORM_WINDOW seconds.
LEAD_FORM_LIMIT_PER_IP = env.int("LEAD_FORM_LIMIT_PER_IP", default=10)
LEAD_FORM_LIMIT_PER_EMAIL = env.int("LEAD_FORM_LIMIT_PER_EMAIL", default=5)
# The largest lead-form body taken (JSON, in bytes); a longer one is refused with 413 before it is read.
# Every field at its longest in a non-Latin script, escaped \uXXXX as Python's json.dumps does, is
# about 40 KB; anything past 64 KiB is not a person filling in a form.
LEAD_FORM_MAX_BODY_BYTES = env.int("LEAD_FORM_MAX_BODY_BYTES", default=64 * 1024)
LEAD_FORM_WINDOW = env.int("LEAD_FORM_WINDOW", default=3600)

# --- Accounts ---------------------------------------------------------------------------------------

# Log-in lockout: after this many failed log-ins within the window, further attempts for the account
# (or from the client address) are refused with 429 until the window ends, even with the right password.
LOGIN_MAX_FAILURES_PER_ACCOUNT = env.int("LOGIN_MAX_FAILURES_PER_ACCOUNT", default=5)
LOGIN_MAX_FAILURES_PER_IP = env.int("LOGIN_MAX_FAILURES_PER_IP", default=20)
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)  # seconds

# Sign-up: attempts per submitted address and per client address within the window; beyond them 429.
REGISTER_MAX_PER_ADDRESS = env.int("REGISTER_MAX_PER_ADDRESS", default=5)
REGISTER_MAX_PER_IP = env.int("REGISTER_MAX_PER_IP", default=20)
REGISTER_WINDOW = env.int("REGISTER_WINDOW", default=3600)  # seconds
# E-mail verification: the link the mail carries (the public site reads the token and confirms it at
# POST /api/v1/auth/verify-email/), how long it works, and how many new mails a user may ask for.
EMAIL_VERIFICATION_URL = env.str(
    "EMAIL_VERIFICATION_URL", default="https://indivillage.com/verify-email?token={token}"
)
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)  # seconds
# The case-study digest (content.digest): links in the mail, and how often a new digest is made (a run
# sooner than DIGEST_MIN_INTERVAL after the last resumes it); the first covers DIGEST_FIRST_WINDOW.
CASE_STUDY_URL = env.str("CASE_STUDY_URL", default="https://indivillage.com/case-studies/{slug}")
UNSUBSCRIBE_PAGE_URL = env.str(
    "UNSUBSCRIBE_PAGE_URL", default="https://indivillage.com/unsubscribe?token={token}"
)
UNSUBSCRIBE_API_URL = env.str(
    "UNSUBSCRIBE_API_URL", default="https://indivillage.com/api/v1/auth/unsubscribe/?token={token}"
)
DIGEST_MIN_INTERVAL = timedelta(hours=env.int("DIGEST_MIN_INTERVAL_HOURS", default=20))
DIGEST_FIRST_WINDOW = timedelta(days=env.int("DIGEST_FIRST_WINDOW_DAYS", default=7))
EMAIL_VERIFICATION_RESEND_MAX = env.int("EMAIL_VERIFICATION_RESEND_MAX", default=3)
EMAIL_VERIFICATION_RESEND_WINDOW = env.int("EMAIL_VERIFICATION_RESEND_WINDOW", default=3600)  # seconds

# --- Uploads ------------------------------------------------------------------------------------------

# Enforced while the body streams in, not after it is stored.
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=50 * 1024 * 1024)
UPLOAD_QUOTA_FILES = env.int("UPLOAD_QUOTA_FILES", default=100)
UPLOAD_QUOTA_BYTES = env.int("UPLOAD_QUOTA_BYTES", default=1024 * 1024 * 1024)
# Kinds decided by sniffing the content, never the extension or Content-Type.
UPLOAD_ALLOWED_KINDS = env.list(
    "UPLOAD_ALLOWED_KINDS", default=["csv", "tsv", "json", "ndjson", "text", "xlsx", "png", "jpeg"]
)
# Archives (XLSX is a ZIP): refused past these, before anything is unpacked.
UPLOAD_MAX_ARCHIVE_ENTRIES = env.int("UPLOAD_MAX_ARCHIVE_ENTRIES", default=10_000)
UPLOAD_MAX_UNPACKED_BYTES = env.int("UPLOAD_MAX_UNPACKED_BYTES", default=500 * 1024 * 1024)
UPLOAD_MAX_IMAGE_PIXELS = env.int("UPLOAD_MAX_IMAGE_PIXELS", default=50_000_000)
# JSON nesting deeper than this is reported as such and not walked further.
UPLOAD_MAX_JSON_DEPTH = env.int("UPLOAD_MAX_JSON_DEPTH", default=64)
CLAMAV_TIMEOUT = env.float("CLAMAV_TIMEOUT", default=30.0)
# Seconds the processing task may run before it is stopped and the upload marked failed.
UPLOAD_TASK_TIME_LIMIT = env.int("UPLOAD_TASK_TIME_LIMIT", default=15 * 60)
# Seconds an upload may sit `uploaded` or `processing` before the beat sweep queues it again (its task was
# lost: the database was down, the worker crashed). Longer than a live task can keep it there, which is
# UPLOAD_TASK_TIME_LIMIT plus one retry's countdown (TASK_RETRY_BACKOFF_MAX): checked at startup.
UPLOAD_STALE_AFTER = env.int("UPLOAD_STALE_AFTER", default=30 * 60)

# --- Operations -------------------------------------------------------------------------------------

# Backups (ops/backups.py, docs/backups.md). With a key, backup files are encrypted (AES-256-GCM in
# chunks); the key lives with the other secrets, and a backup is useless without it.
BACKUP_ENCRYPTION_KEY = env.str("BACKUP_ENCRYPTION_KEY", default="")
# Backups hold the stored files too (uploads, the media library), beside the dump (ops/backup_media.py).
BACKUP_INCLUDE_FILES = env.bool("BACKUP_INCLUDE_FILES", default=True)
# Keys of older backups, after BACKUP_ENCRYPTION_KEY changed: read (chosen by fingerprint), never written.
BACKUP_ENCRYPTION_OLD_KEYS = env.list("BACKUP_ENCRYPTION_OLD_KEYS", default=[])
# How long each tier is kept by `prune_backups`. Manual backups are kept until an operator deletes them.
BACKUP_KEEP = {
    "hourly": timedelta(days=env.int("BACKUP_KEEP_HOURLY_DAYS", default=7)),
    "daily": timedelta(days=env.int("BACKUP_KEEP_DAILY_DAYS", default=30)),
}
# Where dumps are written and read on their way to and from storage (a restore of an S3 backup needs
# room for the file and its decrypted copy); empty: the system's temporary folder.
BACKUP_TMP_DIR = env.str("BACKUP_TMP_DIR", default="")
# The PostgreSQL client programs (pg_dump, pg_restore, psql); empty: found on PATH.
PG_BIN_DIR = env.str("PG_BIN_DIR", default="")

# Readiness (/readyz): each check runs with this budget, all at once, so the page answers in about it.
READINESS_CHECK_TIMEOUT = env.float("READINESS_CHECK_TIMEOUT", default=1.5)
# Beyond these ages the backup and beat checks warn; with READINESS_STRICT they fail (503), for a
# monitoring probe rather than a load balancer's.
READINESS_BACKUP_MAX_AGE = timedelta(hours=env.int("READINESS_BACKUP_MAX_AGE_HOURS", default=48))
READINESS_BEAT_MAX_AGE = timedelta(seconds=env.int("READINESS_BEAT_MAX_AGE_SECONDS", default=300))
READINESS_STRICT = env.bool("READINESS_STRICT", default=False)
# /readyz warns below this share of free disk where the app writes (uploads, backups, media), and when
# more WAL segments than this wait for the archive (ops/monitoring.py).
READINESS_DISK_MIN_FREE_PERCENT = env.float("READINESS_DISK_MIN_FREE_PERCENT", default=10.0)
READINESS_WAL_READY_MAX = env.int("READINESS_WAL_READY_MAX", default=10)
# db_metrics lists the queries running longer than this as long-running.
DB_METRICS_SLOW_QUERY_SECONDS = env.float("DB_METRICS_SLOW_QUERY_SECONDS", default=5.0)

# Read replica (ops/routers.py): after a request writes, its user reads from the primary for this long,
# so that they see their own write whatever the replication lag.
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=5)
# A replica that failed a request gets this long before a worker reads it again (reads go to the primary).
REPLICA_RETRY_SECONDS = env.int("REPLICA_RETRY_SECONDS", default=30)
