import io
import pickle
import time

import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.core.management import CommandError, call_command
from django.db import connection
from django_cryptography.core.signing import BadSignature, FernetSigner, SignatureExpired
from django_cryptography.utils.crypto import FernetBytes, InvalidToken

from accounts.models import User
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.crypto import email_blind_index
from common.encryption import key_fingerprint, keyring
from compliance.models import KeyRotation
from compliance.rotation import blind_index_recompute, field_key_rotate
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db

PHONE, DATA = "phone", "data"


def _raw(model, column: str, pk) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",
            [pk.hex if connection.vendor == "sqlite" else pk],
        )
        return bytes(cursor.fetchone()[0])


def _write_raw(model, column: str, pk, token: bytes) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET {column} = %s WHERE id = %s",
            [token, pk.hex if connection.vendor == "sqlite" else pk],
        )


def _library_key(raw: str) -> bytes:
    # Written out here, not taken from the keyring: rows from before it must open with this exact key.
    kdf = PBKDF2HMAC(algorithm=SHA256(), length=32, salt=b"django-cryptography", iterations=30000)
    return kdf.derive(raw.encode())


def _snapshot():
    """Every encrypted value, raw and decrypted, of every user and submission."""
    users = {u.pk: (u.phone, _raw(User, PHONE, u.pk)) for u in User.objects.all()}
    subs = {s.pk: (s.data, _raw(FormSubmission, DATA, s.pk)) for s in FormSubmission.objects.all()}
    return users, subs


def _rotation_audit(rotation):
    return list(
        AuditLog.objects.filter(entity_type="compliance.keyrotation", entity_id=str(rotation.pk)).values_list(
            "action", flat=True
        )
    )


@pytest.fixture
def key_a(settings):
    settings.FIELD_ENCRYPTION_KEY = "key-A"
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    return settings


@pytest.fixture
def written_under_a(key_a):
    users = [UserFactory(phone=f"+91 98450 0000{i}") for i in range(3)]
    subs = [
        FormSubmissionFactory(data={"name": f"V{i}", "email": f"v{i}@example.com", "message": "Hello"})
        for i in range(5)
    ]
    return users, subs


# --- the drill ------------------------------------------------------------------------------------------


def test_drill_rotate_from_a_to_b_then_retire_a(settings, written_under_a):
    before_users, before_subs = _snapshot()
    updated_at = {s.pk: s.updated_at for s in FormSubmission.objects.all()}

    settings.FIELD_ENCRYPTION_KEY = "key-B"
    settings.FIELD_ENCRYPTION_OLD_KEYS = ["key-A"]
    # Under B with A kept for reading, everything still reads.
    users, subs = _snapshot()
    assert {pk: v for pk, (v, _) in users.items()} == {pk: v for pk, (v, _) in before_users.items()}
    assert {pk: v for pk, (v, _) in subs.items()} == {pk: v for pk, (v, _) in before_subs.items()}
    # A row written after the deploy is already under B: the rotation counts it, does not rewrite it.
    late = FormSubmissionFactory(data={"email": "late@example.com"})
    late_raw = _raw(FormSubmission, DATA, late.pk)

    out = io.StringIO()
    call_command("rotate_encryption_key", batch_size=2, stdout=out)

    after_users, after_subs = _snapshot()
    for pk, (value, raw) in before_users.items():
        assert after_users[pk][0] == value
        assert after_users[pk][1] != raw
        assert keyring.is_current(after_users[pk][1])
    for pk, (value, raw) in before_subs.items():
        assert after_subs[pk][0] == value
        assert after_subs[pk][1] != raw
        assert keyring.is_current(after_subs[pk][1])
    assert _raw(FormSubmission, DATA, late.pk) == late_raw
    # Re-encryption is not an edit.
    assert {s.pk: s.updated_at for s in FormSubmission.objects.exclude(pk=late.pk)} == updated_at

    rotation = KeyRotation.objects.get(kind="field_key", target=key_fingerprint("key-B"))
    assert rotation.finished_at is not None
    assert rotation.counts["submissions.formsubmission.data"] == {
        "rows": 6,
        "rewritten": 5,
        "already_current": 1,
    }
    assert rotation.counts["accounts.user.phone"] == {"rows": 3, "rewritten": 3, "already_current": 0}
    output = out.getvalue()
    assert "submissions.formsubmission.data" in output and "already current" in output

    # A retired: every row still reads, with the right values.
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    users, subs = _snapshot()
    assert {pk: v for pk, (v, _) in users.items()} == {pk: v for pk, (v, _) in before_users.items()}
    assert {pk: v for pk, (v, _) in subs.items()} == {
        **{pk: v for pk, (v, _) in before_subs.items()},
        late.pk: {"email": "late@example.com"},
    }

    # With neither key, nothing opens.
    settings.FIELD_ENCRYPTION_KEY = "key-C"
    settings.FIELD_ENCRYPTION_OLD_KEYS = ["key-A"]
    with pytest.raises(BadSignature):
        User.objects.get(pk=written_under_a[0][0].pk)
    with pytest.raises(BadSignature):
        FormSubmission.objects.get(pk=written_under_a[1][0].pk)


def test_rerun_of_a_finished_rotation_changes_nothing(settings, written_under_a):
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    rotation = field_key_rotate(batch_size=3)
    raw = _snapshot()
    audit_rows = AuditLog.objects.count()

    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)

    assert _snapshot() == raw
    assert AuditLog.objects.count() == audit_rows
    assert "already finished" in out.getvalue()
    assert KeyRotation.objects.get().finished_at == rotation.finished_at


def test_restart_rewrites_rows_a_restore_brought_back_under_an_old_key(settings, written_under_a):
    user = written_under_a[0][0]
    under_a = _raw(User, PHONE, user.pk)
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    field_key_rotate()
    _write_raw(User, PHONE, user.pk, under_a)  # as a restore of an older backup would

    field_key_rotate()
    assert _raw(User, PHONE, user.pk) == under_a

    call_command("rotate_encryption_key", restart=True, stdout=io.StringIO())
    assert keyring.is_current(_raw(User, PHONE, user.pk))
    rotation = KeyRotation.objects.get()
    assert rotation.counts["accounts.user.phone"] == {"rows": 3, "rewritten": 1, "already_current": 2}
    assert _rotation_audit(rotation) == [
        "key.rotation_started",
        "key.rotation_finished",
        "key.rotation_restarted",
        "key.rotation_finished",
    ]


# --- resume ---------------------------------------------------------------------------------------------


class _Interrupted(Exception):
    pass


def test_interrupted_rotation_resumes_after_the_last_finished_batch(settings, written_under_a):
    users, subs = written_under_a
    before_users, before_subs = _snapshot()
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    user_pks = sorted(u.pk for u in users)

    def stop(done):
        raise _Interrupted(done)

    with pytest.raises(_Interrupted):
        field_key_rotate(batch_size=2, progress=stop)

    rotation = KeyRotation.objects.get(kind="field_key", target=key_fingerprint("key-B"))
    assert rotation.finished_at is None
    assert rotation.progress == {"accounts.user.phone": str(user_pks[1])}
    assert rotation.counts == {"accounts.user.phone": {"rows": 2, "rewritten": 2, "already_current": 0}}
    assert [keyring.is_current(_raw(User, PHONE, pk)) for pk in user_pks] == [True, True, False]
    first_batch = {pk: _raw(User, PHONE, pk) for pk in user_pks[:2]}
    assert _rotation_audit(rotation) == ["key.rotation_started"]

    batches = []
    resumed = field_key_rotate(batch_size=2, progress=batches.append)

    assert resumed.pk == rotation.pk
    # Resumed after the first batch: the rest of the users, then the submissions in 3 batches.
    assert [(b.field, b.rows) for b in batches] == [
        ("accounts.user.phone", 1),
        ("submissions.formsubmission.data", 2),
        ("submissions.formsubmission.data", 2),
        ("submissions.formsubmission.data", 1),
    ]
    assert {pk: _raw(User, PHONE, pk) for pk in user_pks[:2]} == first_batch
    # The end state of an uninterrupted rotation: every value current, the same values, the full counts.
    after_users, after_subs = _snapshot()
    assert all(keyring.is_current(raw) for _, raw in [*after_users.values(), *after_subs.values()])
    assert {pk: v for pk, (v, _) in after_users.items()} == {pk: v for pk, (v, _) in before_users.items()}
    assert {pk: v for pk, (v, _) in after_subs.items()} == {pk: v for pk, (v, _) in before_subs.items()}
    assert resumed.finished_at is not None
    assert resumed.counts == {
        "accounts.user.phone": {"rows": 3, "rewritten": 3, "already_current": 0},
        "submissions.formsubmission.data": {"rows": 5, "rewritten": 5, "already_current": 0},
    }
    assert resumed.progress == {
        "accounts.user.phone": str(user_pks[-1]),
        "submissions.formsubmission.data": str(max(s.pk for s in subs)),
    }
    assert _rotation_audit(resumed) == ["key.rotation_started", "key.rotation_finished"]
    finished = AuditLog.objects.get(action="key.rotation_finished")
    assert finished.changes["fingerprint"] == key_fingerprint("key-B")
    assert {"field": "submissions.formsubmission.data", "rows": 5, "rewritten": 5, "already_current": 0} in (
        finished.changes["fields"]
    )
    assert "key-B" not in str(finished.changes) and "key-A" not in str(finished.changes)


# --- rows from before the keyring -----------------------------------------------------------------------


def test_legacy_rows_survive_a_secret_key_rotation_and_are_rewritten(settings):
    settings.FIELD_ENCRYPTION_KEY = "key-A"
    user = UserFactory(phone="+91 80 1234 5678")
    old_secret = settings.SECRET_KEY
    # The library's own scheme as the field used it before the keyring: 0x80, HMAC keyed by SECRET_KEY.
    legacy = FernetBytes(_library_key("key-A"), FernetSigner(old_secret)).encrypt(
        pickle.dumps("+91 80 1234 5678")
    )
    assert legacy[:1] == b"\x80"
    _write_raw(User, PHONE, user.pk, legacy)
    assert User.objects.get(pk=user.pk).phone == "+91 80 1234 5678"

    settings.SECRET_KEY = "a-new-secret-key-after-rotation-that-is-long-enough"
    with pytest.raises(BadSignature):
        User.objects.get(pk=user.pk)
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert User.objects.get(pk=user.pk).phone == "+91 80 1234 5678"

    call_command("rotate_encryption_key", stdout=io.StringIO())
    raw = _raw(User, PHONE, user.pk)
    assert raw[:1] == b"\x81" and keyring.is_current(raw)

    settings.SECRET_KEY_FALLBACKS = []
    assert User.objects.get(pk=user.pk).phone == "+91 80 1234 5678"


def test_legacy_rows_under_an_old_field_key_open(settings):
    """The library's signature does not name the field key: every configured one is tried."""
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    user = UserFactory(phone="")
    legacy = FernetBytes(_library_key("key-A"), FernetSigner(settings.SECRET_KEY)).encrypt(
        pickle.dumps("0800")
    )
    _write_raw(User, PHONE, user.pk, legacy)
    assert User.objects.get(pk=user.pk).phone == "0800"
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    with pytest.raises(InvalidToken):
        User.objects.get(pk=user.pk)


def test_the_library_default_field_encryption_still_opens():
    # The FernetBytes each field carried before the keyring: key from CRYPTOGRAPHY_KEY, signer SECRET_KEY.
    token = FernetBytes(signer=FernetSigner()).encrypt(pickle.dumps({"email": "x@example.com"}))
    assert pickle.loads(keyring.decrypt(token)) == {"email": "x@example.com"}


def test_rows_written_by_the_keyring_survive_a_secret_key_change_without_fallback(settings):
    user = UserFactory(phone="+44 20 7946 0000")
    submission = FormSubmissionFactory(data={"email": "k@example.com"})
    settings.SECRET_KEY = "an-entirely-different-secret-key-with-no-fallback-at-all"
    settings.SECRET_KEY_FALLBACKS = []
    assert User.objects.get(pk=user.pk).phone == "+44 20 7946 0000"
    assert FormSubmission.objects.get(pk=submission.pk).data == {"email": "k@example.com"}


# --- the keyring itself ---------------------------------------------------------------------------------


def test_keyring_respects_ttl_and_refuses_tampering():
    old = keyring.encrypt_at_time(b"payload", int(time.time()) - 3600)
    assert keyring.decrypt(old) == b"payload"
    assert keyring.decrypt(old, ttl=7200) == b"payload"
    with pytest.raises(SignatureExpired):
        keyring.decrypt(old, ttl=60)
    tampered = bytearray(keyring.encrypt(b"payload"))
    tampered[20] ^= 1
    with pytest.raises(BadSignature):
        keyring.decrypt(bytes(tampered))
    with pytest.raises(BadSignature):
        keyring.decrypt(b"\x82" + old[1:])


def test_reencrypt_keeps_the_timestamp(settings):
    settings.FIELD_ENCRYPTION_KEY = "key-A"
    token = keyring.encrypt_at_time(b"payload", 1_700_000_000)
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    rotated = keyring.reencrypt(token)
    assert rotated[1:9] == token[1:9]
    assert keyring.is_current(rotated) and not keyring.is_current(token)
    assert keyring.decrypt(rotated) == b"payload"


# --- blind index ----------------------------------------------------------------------------------------


def test_blind_index_recompute_finds_submissions_under_the_new_key(settings):
    emails = [f"Person{i}@Example.com" for i in range(5)]
    subs = [FormSubmissionFactory(data={"email": email}) for email in emails]
    no_email = FormSubmissionFactory(data={"name": "Anonymous"})
    anonymised = FormSubmissionFactory(data={"anonymized": True}, email_hash="")
    updated_at = {s.pk: s.updated_at for s in FormSubmission.objects.all()}

    settings.BLIND_INDEX_KEY = "blind-index-key-2"
    assert not FormSubmission.objects.filter(email_hash=email_blind_index(emails[0])).exists()

    out = io.StringIO()
    call_command("recompute_blind_index", batch_size=2, stdout=out)

    for submission, email in zip(subs, emails, strict=True):
        found = FormSubmission.objects.filter(email_hash=email_blind_index(email.upper()))
        assert list(found) == [submission]
    assert FormSubmission.objects.get(pk=no_email.pk).email_hash == email_blind_index("")
    # A cleared index stays cleared: anonymised rows must not become findable again.
    assert FormSubmission.objects.get(pk=anonymised.pk).email_hash == ""
    assert {s.pk: s.updated_at for s in FormSubmission.objects.all()} == updated_at

    rotation = KeyRotation.objects.get(kind="blind_index", target=key_fingerprint("blind-index-key-2"))
    assert rotation.counts == {
        "submissions.formsubmission.email_hash": {"rows": 7, "rewritten": 6, "already_current": 1}
    }
    assert _rotation_audit(rotation) == ["key.rotation_started", "key.rotation_finished"]
    assert "batch of 2" in out.getvalue()


def test_blind_index_recompute_resumes(settings):
    subs = [FormSubmissionFactory(data={"email": f"r{i}@example.com"}) for i in range(5)]
    settings.BLIND_INDEX_KEY = "blind-index-key-2"

    def stop(done):
        raise _Interrupted(done)

    with pytest.raises(_Interrupted):
        blind_index_recompute(batch_size=2, progress=stop)
    rotation = KeyRotation.objects.get(kind="blind_index")
    pks = sorted(s.pk for s in subs)
    assert rotation.progress == {"submissions.formsubmission.email_hash": str(pks[1])}

    blind_index_recompute(batch_size=2)
    rotation.refresh_from_db()
    assert rotation.finished_at is not None
    assert rotation.counts["submissions.formsubmission.email_hash"]["rewritten"] == 5
    for i in range(5):
        assert FormSubmission.objects.filter(email_hash=email_blind_index(f"r{i}@example.com")).count() == 1


# --- dry run and failures -------------------------------------------------------------------------------


def test_dry_run_counts_and_writes_nothing(settings, written_under_a):
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    FormSubmissionFactory(data={"email": "under-b@example.com"})
    raw = _snapshot()
    audit_rows = AuditLog.objects.count()

    out = io.StringIO()
    call_command("rotate_encryption_key", dry_run=True, stdout=out)

    assert _snapshot() == raw
    assert AuditLog.objects.count() == audit_rows
    assert not KeyRotation.objects.exists()
    lines = out.getvalue().splitlines()
    assert any(line.split() == ["submissions.formsubmission.data", "6", "5", "0"] for line in lines)
    assert any(line.split() == ["accounts.user.phone", "3", "3", "0"] for line in lines)
    assert "8 value(s) to rewrite" in out.getvalue()


def test_a_row_no_key_opens_stops_the_rotation_and_leaves_its_batch_untouched(settings, key_a):
    users = [UserFactory(phone=f"0{i}") for i in range(4)]
    pks = sorted(u.pk for u in users)
    settings.FIELD_ENCRYPTION_KEY = "key-X"
    User.objects.filter(pk=pks[2]).update(phone="written under X")
    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]
    before = {pk: _raw(User, PHONE, pk) for pk in pks}

    dry = io.StringIO()
    call_command("rotate_encryption_key", dry_run=True, stdout=dry)
    assert f"first: {pks[2]}" in dry.getvalue()

    with pytest.raises(CommandError) as error:
        call_command("rotate_encryption_key", batch_size=2, stdout=io.StringIO())
    message = str(error.value)
    assert str(pks[2]) in message and "accounts.User" in message and "FIELD_ENCRYPTION_OLD_KEYS" in message

    after = {pk: _raw(User, PHONE, pk) for pk in pks}
    # The first batch committed; the failing batch (the bad row and the one after it) is as it was.
    assert all(after[pk] != before[pk] and keyring.is_current(after[pk]) for pk in pks[:2])
    assert after[pks[2]] == before[pks[2]] and after[pks[3]] == before[pks[3]]
    rotation = KeyRotation.objects.get()
    assert rotation.finished_at is None
    assert rotation.progress == {"accounts.user.phone": str(pks[1])}

    # With the missing key added, the rerun finishes from where it stopped.
    settings.FIELD_ENCRYPTION_OLD_KEYS = ["key-A", "key-X"]
    call_command("rotate_encryption_key", batch_size=2, stdout=io.StringIO())
    rotation.refresh_from_db()
    assert rotation.finished_at is not None
    assert rotation.counts["accounts.user.phone"] == {"rows": 4, "rewritten": 4, "already_current": 0}
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    assert User.objects.get(pk=pks[2]).phone == "written under X"


def test_a_finished_rotation_retires_the_public_cache(
    settings, written_under_a, api_client, django_capture_on_commit_callbacks
):
    # Every bulk path retires the public cache (issue 13, item 9), a rotation too.
    from content.tests.caching import public_cache_retired_by

    settings.FIELD_ENCRYPTION_KEY, settings.FIELD_ENCRYPTION_OLD_KEYS = "key-B", ["key-A"]

    def rotate():
        assert field_key_rotate(batch_size=2).finished_at
        blind_index_recompute()

    assert public_cache_retired_by(api_client, rotate, django_capture_on_commit_callbacks)
