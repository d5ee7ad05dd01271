"""The audit log's hash chain: every kind of tampering is named at the row where it happened."""

import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditLog
from audit.selectors import audit_chain_verify
from audit.services import audit_record
from common.context import RequestContext, reset_request_context, set_request_context

pytestmark = pytest.mark.django_db


def _write(n, **changes):
    return [
        audit_record(action=f"test.event{i}", entity_type="test.thing", entity_id=str(i), changes=changes)
        for i in range(n)
    ]


@contextmanager
def _bypassing_the_trigger():
    """What an intruder with superuser rights does: switch the append-only trigger off for a moment."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
    else:
        yield


def _problem():
    report = audit_chain_verify(chunk_size=2)  # small chunks: the lookahead crosses chunk edges
    assert not report.ok
    return report


def test_rows_are_numbered_and_linked_and_verify():
    rows = _write(5)
    stored = list(AuditLog.objects.all())
    assert [r.sequence for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == ""
    for before, after in zip(stored, stored[1:], strict=False):
        assert after.prev_hash == before.hash
    assert [r.hash for r in stored] == [r.hash for r in rows]
    report = audit_chain_verify()
    assert report.ok and report.checked == 5 and report.head_hash == stored[-1].hash


def test_values_that_the_json_column_reshapes_still_verify():
    audit_record(
        action="test.shapes",
        entity_type="test.thing",
        changes={
            "when": datetime(2026, 1, 2, 3, 4, 5, 678901),
            "amount": Decimal("12.50"),
            "ref": uuid.UUID(int=7),
            "big": 1e20,
            "ratio": 0.1,
            "nested": {"b": [1, 2.5, None, True], "a": "ünïcode ✓"},
        },
    )
    token = set_request_context(RequestContext(request_id="r-1", ip_address="2001:DB8:0:0:0:0:0:1"))
    try:
        audit_record(action="test.ipv6", entity_type="test.thing")
    finally:
        reset_request_context(token)
    assert AuditLog.objects.get(action="test.ipv6").ip_address == "2001:db8::1"
    assert audit_chain_verify().ok


def test_changes_lose_secrets_and_pii_at_any_depth():
    row = audit_record(
        action="test.scrub",
        entity_type="test.thing",
        changes={
            "fields": ["name"],
            "before": {"email": "a@b.c", "role": "user", "password": "x"},
            "phone": "1",
        },
    )
    assert row.changes == {"fields": ["name"], "before": {"role": "user"}}


def test_an_altered_row_is_named():
    _write(5)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=3).update(changes={"role": "admin"})
    report = _problem()
    assert report.row_sequence == 3 and "altered" in report.problem and report.checked == 2


def test_an_altered_row_with_a_recomputed_unkeyed_hash_is_named():
    _write(4)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=2).update(action="test.innocent", hash="0" * 64)
    assert _problem().row_sequence == 2


def test_a_removed_row_is_named_by_the_gap():
    rows = _write(5)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=3).delete()
    report = _problem()
    assert report.row_sequence == 4 and report.row_id == str(rows[3].id)
    assert "#3 to #3 were removed" in report.problem


def test_removed_first_rows_without_a_purge_record_are_named():
    _write(4)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence__lte=2).delete()
    report = _problem()
    assert report.row_sequence == 3 and "rows #1 to #2 are missing" in report.problem


def test_a_row_slipped_into_the_middle_is_named():
    rows = _write(5)
    with _bypassing_the_trigger():
        # Make room at #3 the only way a unique sequence allows: renumber everything after it.
        AuditLog.objects.filter(sequence__gte=3).update(sequence=F("sequence") + 1_000_000)
        for row in AuditLog.objects.filter(sequence__gte=1_000_000).order_by("-sequence"):
            AuditLog.objects.filter(pk=row.pk).update(sequence=row.sequence - 1_000_000 + 1)
        forged = AuditLog(
            sequence=3,
            action="user.role_changed",
            entity_type="accounts.user",
            entity_id="intruder",
            changes={"role": "admin"},
            prev_hash=rows[1].hash,
            created_at=rows[2].created_at,
        )
        forged.hash = "f" * 64  # without AUDIT_CHAIN_KEY no valid hash can be made
        AuditLog.objects.bulk_create([forged])
    report = _problem()
    assert report.row_sequence == 3 and report.row_id == str(forged.id) and "inserted" in report.problem


def test_a_forged_row_appended_at_the_end_is_named():
    rows = _write(3)
    with _bypassing_the_trigger():
        forged = AuditLog(
            sequence=4, action="test.forged", entity_type="x", prev_hash=rows[-1].hash, hash="a" * 64
        )
        AuditLog.objects.bulk_create([forged])
    report = _problem()
    assert report.row_sequence == 4 and "forged" in report.problem


def test_a_row_that_does_not_link_is_named():
    _write(3)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=3).update(prev_hash="b" * 64)
    assert _problem().row_sequence == 3


def test_swapped_rows_are_named():
    _write(4)
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=2).update(sequence=100)
        AuditLog.objects.filter(sequence=3).update(sequence=2)
        AuditLog.objects.filter(sequence=100).update(sequence=3)
    assert _problem().row_sequence == 2


def test_verify_audit_chain_command_reports_intact_and_broken_chains(capsys):
    _write(3)
    call_command("verify_audit_chain")
    assert "Audit chain intact: 3 rows, #1 to #3" in capsys.readouterr().out
    with _bypassing_the_trigger():
        AuditLog.objects.filter(sequence=2).update(entity_id="other")
    with pytest.raises(CommandError, match=r"after 1 good rows: row #2 .* altered"):
        call_command("verify_audit_chain")


def test_verify_audit_chain_on_an_empty_log(capsys):
    call_command("verify_audit_chain")
    assert "empty" in capsys.readouterr().out


@pytest.mark.postgres
def test_the_trigger_refuses_update_delete_and_truncate():
    _write(2)
    for attempt in (
        lambda: AuditLog.objects.filter(sequence=1).update(action="rewritten"),
        lambda: AuditLog.objects.filter(sequence=2).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL audit.allow_truncate = off")
        cursor.execute("TRUNCATE audit_auditlog")
    assert AuditLog.objects.filter(action__startswith="test.event").count() == 2
    assert audit_chain_verify().ok


@pytest.mark.postgres
def test_the_purge_path_deletes_only_rows_older_than_its_declared_cut_off_and_the_floor():
    old = _aged_row(days=800)
    older_than_cutoff_but_young = _aged_row(days=200)
    (new,) = _write(1)
    # created_at cannot be backdated to bring a row under the cut-off either.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=new.pk).update(created_at=datetime(2001, 1, 1, tzinfo=UTC))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.purge_before = %s", [str(new.created_at)])
        assert AuditLog.objects.filter(pk=old.pk).delete()[0] == 1
        # Under the declared cut-off, but younger than the floor the database keeps whatever is declared.
        for row in (older_than_cutoff_but_young, new):
            with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
                AuditLog.objects.filter(pk=row.pk).delete()
    # Whoever may set the setting (any role may) cannot empty the log with it.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL audit.purge_before = 'infinity'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            AuditLog.objects.all().delete()
    # The setting ended with its transaction.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditLog.objects.filter(pk=new.pk).delete()
    assert AuditLog.objects.count() == 2


def _aged_row(*, days: int) -> AuditLog:
    """A row appended to the chain as if written `days` ago (created_at set before it is hashed)."""
    from audit import chain

    (row,) = chain.append(
        [
            AuditLog(
                action="test.aged", entity_type="test.thing", created_at=timezone.now() - timedelta(days=days)
            )
        ]
    )
    return row


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_share_a_place_in_the_chain():
    errors = []

    def writer(n):
        try:
            for i in range(10):
                with transaction.atomic():
                    audit_record(action="test.concurrent", entity_type="thread", entity_id=f"{n}-{i}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert list(AuditLog.objects.values_list("sequence", flat=True)) == list(range(1, 41))
    assert audit_chain_verify().ok
