"""The project's encrypted fields read every value django-cryptography's fields and the keyring wrote."""

import pickle

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import BinaryField, Value

from accounts.models import User
from common.encryption import keyring
from common.fields import EncryptedCharField, encrypted_fields
from submissions.models import FormSubmission

BEFORE = [("accounts", "0005_user_email_verified_at"), ("submissions", "0004_enqueue_failed")]


@pytest.mark.django_db(transaction=True)
def test_values_written_before_the_fields_changed_still_read():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldUser = old.get_model("accounts", "User")
    # django-cryptography's own field, as the historical model has it: its 0x80 tokens, signed by SECRET_KEY.
    by_library = OldUser.objects.create(email="library@example.com", phone="+91 11111 11111")
    sent = old.get_model("submissions", "FormSubmission").objects.create(
        form_type="contact", data={"email": "x@example.com", "message": "Hello"}
    )
    # What the keyring, swapped into that field, wrote until now: 0x81 tokens.
    by_keyring = OldUser.objects.create(email="keyring@example.com")
    token = keyring.encrypt(pickle.dumps("+91 22222 22222"))
    OldUser.objects.filter(pk=by_keyring.pk).update(phone=Value(token, output_field=BinaryField()))

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert User.objects.get(pk=by_library.pk).phone == "+91 11111 11111"
    assert User.objects.get(pk=by_keyring.pk).phone == "+91 22222 22222"
    assert FormSubmission.objects.get(pk=sent.pk).data == {"email": "x@example.com", "message": "Hello"}


@pytest.mark.django_db
def test_a_value_is_stored_encrypted_and_read_back():
    user = User.objects.create_user("asha@example.com", phone="+91 98450 12345")
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM accounts_user WHERE email = %s", ["asha@example.com"])
        stored = bytes(cursor.fetchone()[0])
    assert b"98450" not in stored and keyring.is_current(stored)
    assert User.objects.get(pk=user.pk).phone == "+91 98450 12345"
    assert User.objects.filter(phone__isnull=False).count() == User.objects.count()


def test_only_null_checks_can_filter_an_encrypted_column():
    field = EncryptedCharField(max_length=10)
    assert field.get_lookup("isnull") is not None
    assert field.get_lookup("exact") is None and field.get_lookup("icontains") is None


def test_the_rotation_walks_both_encrypted_fields():
    assert [(model._meta.label_lower, field.name) for model, field in encrypted_fields()] == [
        ("accounts.user", "phone"),
        ("submissions.formsubmission", "data"),
    ]
