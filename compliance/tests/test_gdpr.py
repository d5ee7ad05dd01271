"""GDPR: export, erasure (API, admin, service), anonymisation, and the replay of erasures after a restore."""

import io
import json
import os
import stat
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.crypto import email_blind_index
from compliance.gdpr import (
    ANONYMIZED_DATA,
    LastAdminRefused,
    LegalHoldRefused,
    user_anonymize,
    user_erase,
    user_export,
    users_anonymize,
)
from compliance.journal import journal_path
from compliance.models import ErasureRecord
from compliance.replay import erasures_replay
from content.models import Service
from content.tests.caching import public_cache_retired_by
from content.tests.factories import ServiceFactory
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory
from uploads.models import FileAnalysis, FileUpload
from uploads.services import _storage, details_name, storage_name

pytestmark = pytest.mark.django_db

EMAIL = "asha.rao@example.com"
PASSWORD = "correct-horse-battery"  # UserFactory's
ME = "/api/v1/me/"
EXPORT = "/api/v1/me/export/"


def _person(**fields):
    # Verified: the visitor forms sent with the address are theirs (test_email_verification: until then not).
    fields.setdefault("email_verified_at", timezone.now())
    return UserFactory(
        email=EMAIL,
        name="Asha Rao",
        company="Acme Analytics",
        phone="+91 98450 12345",
        country="IN",
        **fields,
    )


def _submission(*, user=None, email=EMAIL, message="Hello."):
    data = {"name": "Asha", "email": email, "message": message, "company": "Acme"}
    return FormSubmissionFactory(user=user, data=data)


def _upload(user, *, content=b"id,name\n1,Asha\n", details=None):
    upload = FileUpload.objects.create(
        user=user, filename="people.csv", size=len(content), mime_type="text/csv", status="completed"
    )
    storage = _storage()
    stored = storage.save(storage_name(upload), ContentFile(content))
    FileUpload.objects.filter(pk=upload.pk).update(storage_path=stored)
    doc = storage.save(details_name(upload), ContentFile(json.dumps(details or {"rows": 1}).encode()))
    FileAnalysis.objects.create(upload=upload, summary="A CSV file with 1 row.", details_path=doc)
    upload.refresh_from_db()
    return upload


def _stored_files() -> list[str]:
    storage = _storage()

    def walk(folder):
        if not storage.exists(folder or "."):
            return []
        dirs, files = storage.listdir(folder)
        found = [f"{folder}/{name}".lstrip("/") for name in files]
        for name in dirs:
            found += walk(f"{folder}/{name}".lstrip("/"))
        return found

    return walk("")


def _token_client(user) -> tuple[APIClient, str]:
    _, raw = AuthToken.objects.create(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {raw}")
    return client, raw


def _all_audit_changes() -> str:
    return json.dumps(list(AuditLog.objects.values_list("changes", flat=True))).lower()


def _journal_lines() -> list[dict]:
    path = journal_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- Export --------------------------------------------------------------------------------------------


def test_export_holds_the_users_data_and_their_visitor_forms_but_nobody_elses():
    user = _person(preferences={"notifications": False, "theme": "dark"})
    service = ServiceFactory(slug="data-annotation")
    own = _submission(user=user, message="Signed in.")
    own.services.set([service])
    visitor = _submission(email="  Asha.Rao@Example.com ", message="As a visitor.")
    other_user = UserFactory(email="ravi@example.com")
    others = _submission(user=other_user, email="ravi@example.com", message="Ravi's.")
    stranger = _submission(email="stranger@example.com", message="A stranger's.")
    upload = _upload(user, details={"columns": ["id", "name"]})
    _upload(other_user)

    document = user_export(user=user, actor=user)

    json.dumps(document)  # serialisable as it is, no encoder needed
    profile = document["user"]
    assert profile["email"] == EMAIL and profile["phone"] == "+91 98450 12345"
    assert profile["country"] == "IN" and profile["role"] == "user"
    assert profile["preferences"] == {"notifications": False, "theme": "dark"}
    by_id = {item["id"]: item for item in document["submissions"]}
    assert set(by_id) == {str(own.pk), str(visitor.pk)}
    assert str(others.pk) not in by_id and str(stranger.pk) not in by_id
    assert by_id[str(own.pk)]["data"]["message"] == "Signed in."
    assert by_id[str(own.pk)]["services"] == ["data-annotation"] and by_id[str(own.pk)]["via_account"]
    assert by_id[str(visitor.pk)]["data"]["message"] == "As a visitor."
    assert not by_id[str(visitor.pk)]["via_account"]
    assert [item["id"] for item in document["uploads"]] == [str(upload.pk)]
    assert document["uploads"][0]["analysis"] == {
        "summary": "A CSV file with 1 row.",
        "details": {"columns": ["id", "name"]},
    }
    actions = {event["action"] for event in document["audit_events"]}
    assert "user.created" in actions
    assert all(event["entity_id"] == str(user.pk) or event["by_user"] for event in document["audit_events"])
    exported = AuditLog.objects.get(action="data.exported")
    assert exported.entity_id == str(user.pk) and exported.actor_id == user.pk
    assert exported.changes == {"submissions": 2, "uploads": 1, "audit_events": len(document["audit_events"])}


def test_export_api_is_an_uncached_attachment_of_the_callers_own_data():
    user = _person()
    _submission(email=EMAIL, message="As a visitor.")
    UserFactory(email="ravi@example.com")
    client, _ = _token_client(user)

    response = client.get(EXPORT)

    assert response.status_code == 200, response.content
    assert response["Content-Disposition"].startswith('attachment; filename="indivillage-personal-data-')
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    body = response.json()
    assert body["user"]["id"] == str(user.pk) and body["user"]["email"] == EMAIL
    assert [item["data"]["message"] for item in body["submissions"]] == ["As a visitor."]
    assert "ravi@example.com" not in response.content.decode()
    assert APIClient().get(EXPORT).status_code == 401


def test_export_command_prints_or_writes_the_document_and_refuses_an_unknown_address(tmp_path):
    user = _person()
    out = io.StringIO()
    call_command("export_user_data", "ASHA.RAO@example.com", stdout=out)
    assert json.loads(out.getvalue())["user"]["id"] == str(user.pk)

    target = tmp_path / "asha.json"
    call_command("export_user_data", EMAIL, "--output", str(target), stdout=io.StringIO())
    assert json.loads(target.read_text())["user"]["email"] == EMAIL
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert AuditLog.objects.filter(action="data.exported", entity_id=str(user.pk)).count() == 2

    with pytest.raises(CommandError, match="No user"):
        call_command("export_user_data", "nobody@example.com", stdout=io.StringIO())


# --- Erasure through the API -----------------------------------------------------------------------------


def test_delete_me_with_a_wrong_or_missing_password_changes_nothing():
    user = _person()
    _submission(user=user)
    _submission(email=EMAIL)
    _upload(user)
    client, _ = _token_client(user)
    files_before = _stored_files()
    audit_before = AuditLog.objects.count()

    wrong = client.delete(ME, {"password": "not-my-password"}, format="json")
    missing = client.delete(ME, {}, format="json")

    for response in (wrong, missing):
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "validation_error" and "password" in error["fields"]
    assert User.objects.filter(pk=user.pk).exists()
    assert FormSubmission.objects.count() == 2 and FileUpload.objects.count() == 1
    assert _stored_files() == files_before
    assert not ErasureRecord.objects.exists() and not _journal_lines()
    # The wrong password is audited as a failed credential check (it counts towards the lockout).
    added = AuditLog.objects.order_by("sequence")[audit_before:]
    assert [(row.action, row.entity_id) for row in added] == [("auth.password_failed", str(user.pk))]
    assert client.get(ME).status_code == 200  # the token still works


def test_wrong_passwords_at_delete_me_count_towards_the_log_in_lockout(settings):
    # A stolen token must not be a way to guess the password without limit.
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    user = _person()
    client, _ = _token_client(user)
    for _ in range(3):
        assert client.delete(ME, {"password": "guess"}, format="json").status_code == 400
    locked = client.delete(ME, {"password": PASSWORD}, format="json")
    assert locked.status_code == 429, locked.content
    assert int(locked["Retry-After"]) > 0
    assert locked.json()["error"]["code"] == "throttled"
    assert User.objects.filter(pk=user.pk).exists() and not ErasureRecord.objects.exists()
    # The same counter as the log-in's: the right password does not log in either.
    login = APIClient().post("/api/v1/auth/login/", {"email": EMAIL, "password": PASSWORD}, format="json")
    assert login.status_code == 429
    assert AuditLog.objects.filter(action="auth.password_failed").count() == 3
    assert AuditLog.objects.filter(action="auth.locked", entity_id=str(user.pk)).count() == 1


def test_delete_me_erases_every_row_and_file_and_keeps_only_ids_and_hashes(
    django_capture_on_commit_callbacks,
):
    user = _person()
    own = _submission(user=user)
    own.services.set([ServiceFactory()])
    _submission(email="ASHA.RAO@example.com ")  # as a visitor, before signing up
    kept = _submission(email="ravi@example.com")
    _upload(user)
    other = UserFactory()
    other_upload = _upload(other)
    client, raw = _token_client(user)
    AuthToken.objects.create(user)  # another device

    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(FormSubmission.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(FileUpload.objects.values_list("pk", flat=True)) == [other_upload.pk]
    assert sorted(_stored_files()) == sorted([other_upload.storage_path, other_upload.analysis.details_path])
    assert not AuthToken.objects.filter(user_id=user.pk).exists()
    assert client.get(ME).status_code == 401

    record = ErasureRecord.objects.get()
    assert record.user_id == user.pk and record.actor_id == user.pk and record.reason == "self_service"
    assert record.email_hash == email_blind_index(EMAIL)
    erased = AuditLog.objects.get(action="user.erased")
    assert erased.entity_id == str(user.pk)
    assert erased.changes == {
        "reason": "self_service",
        "record": str(record.pk),
        "submissions": 2,
        "uploads": 1,
        "logins_revoked": 2,
    }
    assert [line["record_id"] for line in _journal_lines()] == [str(record.pk)]
    line = _journal_lines()[0]
    assert line["user_id"] == str(user.pk) and line["email_hash"] == record.email_hash
    assert line["reason"] == "self_service"
    for pii in ("asha", "acme", "98450"):
        assert pii not in _all_audit_changes()
        assert pii not in journal_path().read_text().lower()


def test_delete_me_on_legal_hold_is_a_conflict_and_changes_nothing():
    user = _person(legal_hold=True)
    _submission(user=user)
    client, _ = _token_client(user)

    response = client.delete(ME, {"password": PASSWORD}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "legal_hold"
    assert User.objects.filter(pk=user.pk).exists() and FormSubmission.objects.count() == 1
    assert not ErasureRecord.objects.exists()


# --- Erasure rules ---------------------------------------------------------------------------------------


def test_the_last_active_admin_cannot_be_erased_but_one_of_two_can():
    admin = UserFactory(role=Role.ADMIN)
    UserFactory(role=Role.ADMIN, is_active=False)  # an inactive admin does not count
    with pytest.raises(LastAdminRefused):
        user_erase(user=admin, actor=admin, reason="admin")
    assert User.objects.filter(pk=admin.pk).exists() and not ErasureRecord.objects.exists()

    second = UserFactory(role=Role.ADMIN)
    record = user_erase(user=admin, actor=second, reason="admin")
    assert record.actor_id == second.pk and not User.objects.filter(pk=admin.pk).exists()


def test_a_user_on_legal_hold_is_neither_erased_nor_anonymised():
    user = _person(legal_hold=True)
    _submission(user=user)
    with pytest.raises(LegalHoldRefused, match="legal hold"):
        user_erase(user=user, reason="admin")
    with pytest.raises(LegalHoldRefused):
        user_anonymize(user=user)
    user.refresh_from_db()
    assert user.email == EMAIL and user.anonymized_at is None and user.is_active
    assert FormSubmission.objects.get().data["email"] == EMAIL


# --- Anonymisation ---------------------------------------------------------------------------------------


def test_anonymise_scrubs_every_personal_field_keeps_the_row_and_is_idempotent(
    django_capture_on_commit_callbacks,
):
    user = _person()
    own = _submission(user=user)
    visitor = _submission(email=EMAIL)
    kept = _submission(email="ravi@example.com")
    _upload(user)
    AuthToken.objects.create(user)

    with django_capture_on_commit_callbacks(execute=True):
        user_anonymize(user=user, actor=None, reason="retention")

    stored = User.objects.get(pk=user.pk)
    assert stored.email == f"anonymized_{user.pk.hex}@invalid"
    assert (stored.name, stored.company, stored.phone, str(stored.country)) == ("", "", "", "")
    assert not stored.has_usable_password() and not stored.is_active and stored.anonymized_at
    assert not AuthToken.objects.filter(user=user).exists()
    for submission in (own, visitor):
        submission.refresh_from_db()
        assert submission.data == ANONYMIZED_DATA and submission.email_hash == ""
    kept.refresh_from_db()
    assert kept.data["email"] == "ravi@example.com" and kept.email_hash == email_blind_index(
        "ravi@example.com"
    )
    assert own.user_id == user.pk  # the row and its link stay; nothing in them names anyone
    assert not FileUpload.objects.exists() and _stored_files() == []
    row = AuditLog.objects.get(action="user.anonymized")
    assert row.entity_id == str(user.pk) and row.actor_id is None
    assert row.changes == {"reason": "retention", "submissions": 2, "uploads": 1, "logins_revoked": 1}
    for pii in ("asha", "acme", "98450"):
        assert pii not in _all_audit_changes()

    audit_rows = AuditLog.objects.count()
    again = user_anonymize(user=stored, actor=None, reason="retention")
    assert again.anonymized_at == stored.anonymized_at
    assert AuditLog.objects.count() == audit_rows


def test_anonymise_drops_the_idempotency_key_its_scope_and_fingerprint():
    """The scope is a hash of the client address or account, the fingerprint one of the body: both go."""
    user = _person()
    submissions = [_submission(user=user), _submission(email=EMAIL)]
    for submission in submissions:  # the same key from two clients: scrubbed, they must not collide
        FormSubmission.objects.filter(pk=submission.pk).update(
            idempotency_key="k", idempotency_scope=f"scope-{submission.pk}", idempotency_fingerprint="f"
        )
    user_anonymize(user=user, actor=None, reason="retention")
    assert (
        list(
            FormSubmission.objects.values_list(
                "idempotency_key", "idempotency_scope", "idempotency_fingerprint"
            )
        )
        == [(None, "", "")] * 2
    )


@pytest.mark.parametrize("n", [1, 10])
def test_anonymise_takes_the_same_number_of_queries_whatever_the_user_holds(n, django_assert_max_num_queries):
    user = _person()
    for i in range(n):
        _submission(user=user, message=f"Signed in {i}.")
        _submission(email=EMAIL, message=f"Visitor {i}.")
        _upload(user)
        AuthToken.objects.create(user)
    user = User.objects.get(pk=user.pk)  # as the retention job hands it over
    ContentType.objects.get_for_model(User)  # cached for the life of a process, as in the job
    # Savepoints included; PostgreSQL adds the audit chain's advisory lock to each of the 2 appends.
    bound = 24 + (2 if connection.vendor == "postgresql" else 0)

    with django_assert_max_num_queries(bound):
        user_anonymize(user=user, actor=None, reason="retention")

    assert FormSubmission.objects.filter(email_hash="").count() == 2 * n
    assert all(data == ANONYMIZED_DATA for data in FormSubmission.objects.values_list("data", flat=True))
    assert not FileUpload.objects.exists()


def _people(n: int, *, start: int = 0) -> list:
    people = []
    for i in range(start, start + n):
        email = f"person{i}@example.com"
        user = UserFactory(
            email=email, name=f"P{i}", company="Acme", phone="+91 1", email_verified_at=timezone.now()
        )
        _submission(user=user, email=email, message=f"Signed in {i}.")
        _submission(email=email, message=f"Visitor {i}.")
        _upload(user)
        AuthToken.objects.create(user)
        people.append(user)
    return people


def _anonymise_counting_queries(users) -> int:
    with CaptureQueriesContext(connection) as queries:
        users_anonymize(users=users, actor=None, reason="retention")
    return len(queries)


def test_anonymising_a_batch_takes_as_many_queries_as_one_user():
    assert _anonymise_counting_queries(_people(1)) == _anonymise_counting_queries(_people(20, start=1))


def test_a_batch_anonymises_each_user_as_one_at_a_time_would(django_capture_on_commit_callbacks):
    batch = _people(3)
    held = UserFactory(email="held@example.com", legal_hold=True)
    done_before = _people(1, start=3)[0]
    with django_capture_on_commit_callbacks(execute=True):
        user_anonymize(user=done_before)
    bystander = _submission(email="ravi@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        assert users_anonymize(users=[*batch, held, done_before], actor=None, reason="retention") == 3

    for user in batch:
        stored = User.objects.get(pk=user.pk)
        assert stored.email == f"anonymized_{user.pk.hex}@invalid"
        assert (stored.name, stored.company, stored.phone, str(stored.country)) == ("", "", "", "")
        assert not stored.has_usable_password() and not stored.is_active and stored.anonymized_at
        event = AuditLog.objects.get(action="user.anonymized", entity_id=str(user.pk))
        assert event.changes == {"reason": "retention", "submissions": 2, "uploads": 1, "logins_revoked": 1}
    assert User.objects.get(pk=held.pk).anonymized_at is None
    assert AuditLog.objects.filter(action="user.anonymized", entity_id=str(done_before.pk)).count() == 1
    assert FormSubmission.objects.exclude(email_hash="").get() == bystander
    assert not FileUpload.objects.exists() and not AuthToken.objects.exists()
    assert _stored_files() == []


# --- Replay after a restore -------------------------------------------------------------------------------


def _snapshot(user):
    """The rows as a backup would hold them (values, decrypted; saving encrypts them again)."""
    return {
        "user": User.objects.filter(pk=user.pk).values().get(),
        "submissions": list(FormSubmission.objects.filter(user=user).values())
        + list(FormSubmission.objects.filter(user=None, email_hash=email_blind_index(user.email)).values()),
    }


def _restore(snapshot):
    """What a restore of that backup brings back: the same rows with the same ids."""
    User(**snapshot["user"]).save(force_insert=True)
    for values in snapshot["submissions"]:
        FormSubmission(**values).save(force_insert=True)


def test_replay_after_a_restore_erases_again_restores_the_record_and_then_changes_nothing(
    django_capture_on_commit_callbacks,
):
    user = _person()
    _submission(user=user)
    _submission(email=EMAIL)
    keeper = _submission(email="ravi@example.com")
    backup = _snapshot(user)
    since = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        record = user_erase(user=user, actor=None, reason="admin")
    # The database goes back to the backup: the user and their forms return, the record is lost.
    _restore(backup)
    ErasureRecord.objects.all().delete()
    # After the erasure (and the restore) the same address sends a new form: new consent, kept.
    later = _submission(email=EMAIL, message="Written after the erasure.")
    FormSubmission.objects.filter(pk=later.pk).update(created_at=record.erased_at + timedelta(seconds=5))
    assert User.objects.filter(pk=user.pk).exists() and FormSubmission.objects.count() == 4

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_erasures", "--since", since.isoformat(), stdout=out)

    assert not User.objects.filter(pk=user.pk).exists()
    assert set(FormSubmission.objects.values_list("pk", flat=True)) == {keeper.pk, later.pk}
    restored = ErasureRecord.objects.get()
    assert (restored.pk, restored.user_id, restored.reason) == (record.pk, user.pk, "admin")
    assert restored.erased_at == record.erased_at and restored.email_hash == record.email_hash
    replayed = AuditLog.objects.get(action="erasure.replayed")
    assert replayed.changes["users_erased"] == 1 and replayed.changes["records_restored"] == 1
    assert replayed.changes["submissions_deleted"] == 2
    assert str(record.pk) in out.getvalue() and "erased again" in out.getvalue()
    assert len(_journal_lines()) == 1

    audit_rows, journal = AuditLog.objects.count(), journal_path().read_text()
    again = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_erasures", "--since", since.isoformat(), stdout=again)
    assert "Nothing needed doing" in again.getvalue()
    assert AuditLog.objects.count() == audit_rows and journal_path().read_text() == journal
    assert ErasureRecord.objects.count() == 1 and FormSubmission.objects.count() == 2


def test_replay_rewrites_a_lost_journal_line_and_skips_erasures_before_since(
    django_capture_on_commit_callbacks,
):
    early = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=early, reason="admin")
    three_days_ago = timezone.now() - timedelta(days=3)
    ErasureRecord.objects.filter(user_id=early.pk).update(erased_at=three_days_ago)
    journal_path().write_text(
        json.dumps({**_journal_lines()[0], "erased_at": three_days_ago.isoformat()}) + "\n"
    )
    since = timezone.now() - timedelta(days=1)
    user = UserFactory()
    user_erase(user=user, reason="admin")  # committed, but the journal line never written

    with django_capture_on_commit_callbacks(execute=True):
        result = erasures_replay(since=since)

    assert result["erasures"] == 1 and result["journal_repaired"] == 1 and result["users_erased"] == 0
    assert {line["user_id"] for line in _journal_lines()} == {str(early.pk), str(user.pk)}
    with django_capture_on_commit_callbacks(execute=True):
        assert erasures_replay(since=since)["changed"] is False


def test_replay_erases_a_restored_user_on_legal_hold_and_says_so(django_capture_on_commit_callbacks):
    user = _person()
    backup = _snapshot(user)
    since = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=user, reason="admin")
    backup["user"]["legal_hold"] = True  # the hold was placed before the backup, lifted, erased
    _restore(backup)

    out = io.StringIO()
    call_command("replay_erasures", "--since", since.strftime("%Y-%m-%d"), stdout=out)

    assert not User.objects.filter(pk=user.pk).exists()
    assert "legal hold" in out.getvalue() and str(user.pk) in out.getvalue()


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "2025-02-30T10:00", ""])
def test_replay_refuses_a_time_it_cannot_read(value):
    with pytest.raises(CommandError, match="--since"):
        call_command("replay_erasures", "--since", value, stdout=io.StringIO())


# --- Admin -----------------------------------------------------------------------------------------------


def _action(client, action, users, **extra):
    return client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [str(u.pk) for u in users], **extra},
        follow=extra.get("post") == "yes" or action == "export_personal_data",
    )


def test_admin_exports_one_user_as_a_json_file_and_refuses_several(admin_client):
    user = _person()
    _submission(email=EMAIL)

    response = _action(admin_client, "export_personal_data", [user])

    assert response["Content-Disposition"] == f'attachment; filename="personal-data-{user.pk}.json"'
    document = json.loads(response.content)
    assert document["user"]["email"] == EMAIL and len(document["submissions"]) == 1
    assert AuditLog.objects.get(action="data.exported").actor_id == admin_client.admin.pk

    several = _action(admin_client, "export_personal_data", [user, UserFactory()])
    assert "Select exactly one user" in several.content.decode()
    assert AuditLog.objects.filter(action="data.exported").count() == 1


def test_admin_erase_asks_first_then_erases_and_refuses_a_held_user(
    admin_client, django_capture_on_commit_callbacks
):
    user = _person()
    _submission(user=user)
    held = UserFactory(email="held@example.com", legal_hold=True)

    confirm = _action(admin_client, "erase_users", [user, held])
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert EMAIL in page and "On legal hold: will be refused." in page and 'name="post"' in page
    assert User.objects.filter(pk=user.pk).exists()  # nothing happens before the confirmation

    with django_capture_on_commit_callbacks(execute=True):
        done = _action(admin_client, "erase_users", [user, held], post="yes")

    text = done.content.decode()
    assert "Erased 1 user(s)" in text and "held@example.com" in text and "legal hold" in text
    assert not User.objects.filter(pk=user.pk).exists() and User.objects.filter(pk=held.pk).exists()
    record = ErasureRecord.objects.get()
    assert record.reason == "admin" and record.actor_id == admin_client.admin.pk
    assert not FormSubmission.objects.exists()


def test_admin_cannot_plain_delete_a_user_and_editors_get_no_gdpr_actions(admin_client):
    user = UserFactory()
    response = admin_client.post(reverse("admin:accounts_user_delete", args=[user.pk]), {"post": "yes"})
    assert response.status_code == 403 and User.objects.filter(pk=user.pk).exists()
    changelist = admin_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert "erase_users" in changelist and "delete_selected" not in changelist

    editor = UserFactory(role=Role.EDITOR)
    request = RequestFactory().get("/")
    request.user = editor
    assert admin.site.get_model_admin(User).has_gdpr_permission(request) is False
    request.user = admin_client.admin
    assert admin.site.get_model_admin(User).has_gdpr_permission(request) is True


def test_an_erasure_retires_the_public_cache(api_client, django_capture_on_commit_callbacks):
    # Nothing public shows a user today; the erasure still reaches every cache at once, so a page
    # that ever did could not outlive it (the bump costs one refill per erasure).
    user = UserFactory()
    erase = lambda: user_erase(user=user, actor=None, reason="self_service")  # noqa: E731
    assert public_cache_retired_by(api_client, erase, django_capture_on_commit_callbacks)


def test_a_replay_that_erased_again_retires_the_public_cache(api_client, django_capture_on_commit_callbacks):
    user = _person()
    backup = _snapshot(user)
    since = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        user_erase(user=user, actor=None, reason="admin")
    _restore(backup)
    erased = []
    replay = lambda: erased.append(erasures_replay(since=since))  # noqa: E731
    assert public_cache_retired_by(api_client, replay, django_capture_on_commit_callbacks)
    assert erased[0]["users_erased"] == 1
    # A replay with nothing to do changes nothing, and keeps the cache.
    Service.objects.filter(slug="cache-probe").delete()
    assert not public_cache_retired_by(api_client, replay, django_capture_on_commit_callbacks)
    assert not erased[1]["changed"]
