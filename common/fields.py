"""
Encrypted model fields on the project's keyring (common.encryption), with key rotation.

django-cryptography's fields build their own cipher per field and have no rotation; these do what its
`encrypt(...)` fields do (the value pickled, then encrypted, stored as bytes; only `isnull` lookups)
through the keyring's public methods, so every value those fields wrote still reads.
"""

import pickle

from django.apps import apps
from django.db import models
from django.utils.encoding import force_bytes

from .encryption import keyring


class EncryptedMixin(models.Field):
    """Stored encrypted in a binary column; the base field (CharField, JSONField) gives forms and validation."""

    supported_lookups = ("isnull",)

    def get_internal_type(self) -> str:
        return "BinaryField"

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name in self.supported_lookups else None

    def get_transform(self, lookup_name):
        return super().get_transform(lookup_name) if lookup_name in self.supported_lookups else None

    def get_db_prep_value(self, value, connection, prepared=False):
        # models.Field's, not the base field's: a JSONField would adapt the value for a json column.
        value = models.Field.get_db_prep_value(self, value, connection, prepared)
        if value is None:
            return None
        return connection.Database.Binary(keyring.encrypt(pickle.dumps(value)))

    get_db_prep_save = models.Field.get_db_prep_save

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        # Authenticated by the keyring's HMAC before it is unpickled: only this application wrote it.
        return pickle.loads(keyring.decrypt(force_bytes(value)))  # noqa: S301 - authenticated above


class EncryptedCharField(EncryptedMixin, models.CharField):
    pass


class EncryptedJSONField(EncryptedMixin, models.JSONField):
    pass


def encrypted_fields():
    """Every (model, field) whose values the keyring encrypts, in a stable order (for key rotation)."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            # field.model: an inherited field is walked once, on the model that owns its column.
            if isinstance(field, EncryptedMixin) and field.model is model:
                found.append((model, field))
    return sorted(found, key=lambda pair: (pair[0]._meta.label_lower, pair[1].name))
