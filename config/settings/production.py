"""
A real deployment. Refuses to start without its secrets and a database, and passes
`check --deploy --fail-level WARNING`.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, databases, env

ENVIRONMENT = "production"
DEBUG = False


def _required(name: str) -> str:
    value = env.str(name, default="")
    if not value:
        raise ImproperlyConfigured(f"{name} must be set in the environment for production settings.")
    return value


SECRET_KEY = _required("DJANGO_SECRET_KEY")
FIELD_ENCRYPTION_KEY = _required("FIELD_ENCRYPTION_KEY")
CRYPTOGRAPHY_KEY = FIELD_ENCRYPTION_KEY
BLIND_INDEX_KEY = _required("BLIND_INDEX_KEY")
AUDIT_CHAIN_KEY = _required("AUDIT_CHAIN_KEY")
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured("DATABASE_URL must be set in the environment for production settings.")
DATABASE_POOL_TIER = "production"
databases.pool_tier_apply(env, DATABASES, DATABASE_POOL_TIER)

# Uploads come from outside: without clamd only the built-in EICAR check would scan them. Running so
# must be a decision (CLAMAV_DISABLED=true, reported by /readyz), never an omission.
if not CLAMAV_URL and not CLAMAV_DISABLED:  # noqa: F405
    raise ImproperlyConfigured(
        "CLAMAV_URL must be set in the environment for production settings (e.g. tcp://clamav:3310), "
        "or CLAMAV_DISABLED=true to run without a virus scanner on purpose."
    )

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["indivillage.com", "www.indivillage.com"])

# TLS terminates at the proxy in front of gunicorn, which says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# /healthz and /readyz are probed over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
