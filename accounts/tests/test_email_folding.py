"""
One form of an e-mail address (NFKC, case fold) for the stored address, every lookup, the lockout key
and the blind index: a look-alike spelling is the same account or no account, never a way around a lock.
"""

import pytest
from django.test import Client
from knox.models import AuthToken

from accounts.admin import UserCreateForm, UserEditForm
from accounts.models import Role, User
from accounts.services import user_create
from common.crypto import email_blind_index, normalize_email

from .factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LOGIN = "/api/v1/auth/login/"
REGISTER = "/api/v1/auth/register/"


@pytest.fixture
def lockout(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_MAX_FAILURES_PER_IP = 50
    settings.LOGIN_FAILURE_WINDOW = 900


def login(email, password=PASSWORD):
    return Client().post(LOGIN, {"email": email, "password": password}, content_type="application/json")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (" LockSS@Sec.Test ", "lockss@sec.test"),
        ("lock\u017fs@sec.test", "lockss@sec.test"),  # long s
        ("\u212aate@sec.test", "kate@sec.test"),  # Kelvin sign
        ("ｋａｔｅ@ｓｅｃ.test", "kate@sec.test"),  # full-width
        ("stra\u00dfe@sec.test", "strasse@sec.test"),  # sharp s folds to ss
        ("lock\u0131@sec.test", "locki@sec.test"),  # dotless i
        ("LOCK\u0130@sec.test", "locki@sec.test"),  # dotted capital I
    ],
)
def test_normalize_email_folds_look_alikes(typed, stored):
    assert normalize_email(typed) == stored
    assert normalize_email(stored) == stored
    assert email_blind_index(typed) == email_blind_index(stored)


def _lookalike_bypass_is_closed():
    user = UserFactory(email="lockss@sec.test")
    for _ in range(5):
        assert login("lockss@sec.test", "wrong-password").status_code == 401
    assert login("lockss@sec.test").status_code == 429

    for lookalike in ("lock\u017fs@sec.test", "LOCK\u017fS@SEC.TEST", "lock\u017f\u017f@sec.test"):
        response = login(lookalike)
        assert response.status_code == 429, (lookalike, response.content)
    assert not AuthToken.objects.filter(user=user).exists()


def test_lookalike_address_does_not_bypass_the_account_lockout(lockout):
    _lookalike_bypass_is_closed()


@pytest.mark.postgres
def test_lookalike_address_does_not_bypass_the_account_lockout_on_postgresql(lockout):
    # PostgreSQL's UPPER() folds ſ to S and ı to I: the lookup and the key must agree with it.
    _lookalike_bypass_is_closed()
    UserFactory(email="locki@sec.test")
    for _ in range(5):
        login("locki@sec.test", "wrong-password")
    assert login("lock\u0131@sec.test").status_code == 429
    assert login("LOCK\u0130@sec.test").status_code == 429


def test_a_lookalike_spelling_logs_in_to_the_same_account():
    user = UserFactory(email="kate@sec.test")
    response = login("\u212aATE@sec.test")
    assert response.status_code == 200
    assert response.json()["user"]["id"] == str(user.pk)


def test_registration_makes_no_second_account_for_an_address_that_folds_onto_an_existing_one():
    UserFactory(email="lockss@sec.test")
    response = Client().post(
        REGISTER,
        {"email": "lock\u017fs@sec.test", "password": "plum-orchard-lantern-42", "name": "Mallory"},
        content_type="application/json",
    )
    # The same 202 as for a new address (sign-up does not tell who has an account), and no new row.
    assert response.status_code == 202, response.content
    assert User.objects.count() == 1


def test_registration_stores_the_folded_address():
    response = Client().post(
        REGISTER,
        {"email": "\u212aate@Sec.Test", "password": "plum-orchard-lantern-42", "name": "Kate"},
        content_type="application/json",
    )
    assert response.status_code == 202, response.content
    assert User.objects.get().email == "kate@sec.test"


def test_services_refuse_an_address_that_folds_onto_an_existing_one():
    UserFactory(email="strasse@sec.test")
    with pytest.raises(Exception, match="already exists"):
        user_create(email="STRA\u00dfE@sec.test", password=PASSWORD)
    assert User.objects.count() == 1


def test_admin_forms_refuse_an_address_that_folds_onto_an_existing_one():
    UserFactory(email="lockss@sec.test")
    other = UserFactory(email="other@sec.test")

    create = UserCreateForm(
        data={
            "email": "lock\u017fs@sec.test",
            "name": "Mallory",
            "role": Role.USER,
            "usable_password": "false",
        }
    )
    assert not create.is_valid()
    assert "email" in create.errors

    edit = UserEditForm(
        instance=other,
        data={
            "email": "LOCK\u017fS@sec.test",
            "name": other.name,
            "role": other.role,
            "is_active": "on",
            "preferences": '{"notifications": true, "theme": "light"}',
            "password": other.password,
        },
    )
    assert not edit.is_valid()
    assert "email" in edit.errors
    other.refresh_from_db()
    assert other.email == "other@sec.test"


def test_the_data_migration_folds_stored_addresses_and_leaves_a_collision_alone(capsys):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    migration = import_module("accounts.migrations.0003_user_email_normalize")
    kept = UserFactory(email="lockss@sec.test")
    lookalike = UserFactory(email="placeholder1@sec.test")
    legacy = UserFactory(email="placeholder2@sec.test")
    # Rows as an older normalisation (strip + lower) stored them.
    User.objects.filter(pk=lookalike.pk).update(email="lock\u017fs@sec.test")
    User.objects.filter(pk=legacy.pk).update(email="\u212aate@sec.test")

    migration.normalize_stored_emails(apps, SimpleNamespace(connection=connection))

    emails = dict(User.objects.values_list("pk", "email"))
    assert emails[kept.pk] == "lockss@sec.test"
    assert emails[legacy.pk] == "kate@sec.test"
    assert emails[lookalike.pk] == "lock\u017fs@sec.test"
    assert str(lookalike.pk) in capsys.readouterr().out
    # The look-alike row is no way into the kept account, nor into its own.
    assert login("lock\u017fs@sec.test").json()["user"]["id"] == str(kept.pk)
