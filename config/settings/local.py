"""Development: `make run`. Insecure defaults so a newcomer needs no environment at all."""

from .base import *  # noqa: F403
from .base import env

# The media library's renditions from the app itself (nginx serves them in production).
MEDIA_SERVED_BY_APP = True
ENVIRONMENT = "local"
DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str(
    "DJANGO_SECRET_KEY", default="django-insecure-local-only-7f3c9b1e5a2d4c8e9f0a1b2c3d4e5f60"
)
# Development keys only: production refuses to start without real ones.
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="local-dev-field-encryption-key-not-secret")
CRYPTOGRAPHY_KEY = FIELD_ENCRYPTION_KEY
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="local-dev-blind-index-key-not-secret")
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="local-dev-audit-chain-key-not-secret")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["*"])
