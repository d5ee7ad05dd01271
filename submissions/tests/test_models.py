import pytest
from django.db import IntegrityError, connection, transaction

from common.crypto import email_blind_index
from submissions.models import FormSubmission

pytestmark = pytest.mark.django_db


def _raw(column: str, table: str, pk) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {table} WHERE id = %s",  # noqa: S608 - fixed names from the test
            [pk.hex if connection.vendor == "sqlite" else pk],
        )
        return bytes(cursor.fetchone()[0])


def test_data_is_encrypted_at_rest_and_found_by_blind_index():
    data = {"name": "Lakshmi Devi", "email": "Lakshmi@Example.com", "message": "Call me on 98450"}
    submission = FormSubmission.objects.create(
        form_type="contact", data=data, email_hash=email_blind_index(data["email"])
    )
    raw = _raw("data", "submissions_formsubmission", submission.pk)
    assert b"Lakshmi" not in raw and b"98450" not in raw and b"example" not in raw.lower()
    assert FormSubmission.objects.get(pk=submission.pk).data == data
    # The same person, typed differently, is found without decrypting anything.
    found = FormSubmission.objects.filter(email_hash=email_blind_index(" lakshmi@example.COM "))
    assert list(found) == [submission]


def test_blind_index_is_keyed(settings):
    plain = email_blind_index("a@example.com")
    settings.BLIND_INDEX_KEY = "another-key"
    assert email_blind_index("a@example.com") != plain
    assert len(plain) == 64


def test_composite_index_on_form_type_and_status_exists():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "submissions_formsubmission")
    columns = [c["columns"] for c in constraints.values() if c["index"]]
    assert ["form_type", "status"] in columns


def test_idempotency_key_is_unique_per_form_type():
    FormSubmission.objects.create(form_type="contact", idempotency_key="k1")
    FormSubmission.objects.create(form_type="demo_request", idempotency_key="k1")
    FormSubmission.objects.create(form_type="contact", idempotency_key=None)
    FormSubmission.objects.create(form_type="contact", idempotency_key=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        FormSubmission.objects.create(form_type="contact", idempotency_key="k1")
    assert FormSubmission.objects.count() == 4


def test_idempotency_key_is_unique_per_scope():
    FormSubmission.objects.create(form_type="contact", idempotency_key="k1", idempotency_scope="a")
    FormSubmission.objects.create(form_type="contact", idempotency_key="k1", idempotency_scope="b")
    with pytest.raises(IntegrityError), transaction.atomic():
        FormSubmission.objects.create(form_type="contact", idempotency_key="k1", idempotency_scope="a")
    assert FormSubmission.objects.count() == 2
