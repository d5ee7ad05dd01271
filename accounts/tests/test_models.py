import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from accounts.models import Role, User
from accounts.services import user_create

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_email_is_unique_whatever_its_case():
    UserFactory(email="priya@example.com")
    with pytest.raises(ValidationError) as error:
        user_create(email="Priya@Example.COM", password="correct-horse-battery")
    assert "email" in error.value.message_dict
    assert User.objects.filter(email__iexact="priya@example.com").count() == 1


def test_database_refuses_a_case_variant_that_bypasses_validation():
    UserFactory(email="arjun@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        # bulk_create skips full_clean and normalisation: only the Lower(email) constraint stops it.
        User.objects.bulk_create([User(email="ARJUN@example.com", password="!")])
    assert User.objects.count() == 1


def test_email_is_stored_normalised_and_login_ignores_case(client):
    user = UserFactory(email="  Meera@Example.com ")
    assert user.email == "meera@example.com"
    assert client.login(username="MEERA@example.COM", password="correct-horse-battery")


def test_unknown_role_is_refused_and_nothing_saved():
    with pytest.raises(ValidationError) as error:
        user_create(email="x@example.com", role="overlord")
    assert "role" in error.value.message_dict
    assert not User.objects.filter(email="x@example.com").exists()


def test_phone_column_holds_ciphertext_not_the_number():
    user = UserFactory(phone="+91 98450 12345")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT phone FROM accounts_user WHERE id = %s",
            [user.pk.hex if connection.vendor == "sqlite" else user.pk],
        )
        raw = bytes(cursor.fetchone()[0])
    assert b"98450" not in raw and b"+91" not in raw
    assert len(raw) > 40
    assert User.objects.get(pk=user.pk).phone == "+91 98450 12345"


def test_new_user_has_time_ordered_uuid7_id_and_default_preferences():
    first, second = UserFactory(), UserFactory()
    assert first.pk.version == 7 and second.pk.version == 7
    assert first.pk < second.pk
    assert first.preferences == {"notifications": True, "case_study_digest": False, "theme": "light"}
    assert first.created_at is not None and first.updated_at is not None


def test_role_helpers():
    assert UserFactory(role=Role.ADMIN).is_admin()
    editor = UserFactory(role=Role.EDITOR)
    assert editor.is_editor() and not editor.is_admin()
