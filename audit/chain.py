"""
The audit log's hash chain (a keyed HMAC over each row and the hash of the row before it) and the
PostgreSQL trigger that makes the table append-only; how they hold together: docs/compliance.md, "The
audit log: append-only and hash-chained".
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction

from .models import AuditLog

# An arbitrary constant: the advisory lock that serialises appends on PostgreSQL.
_APPEND_LOCK_ID = 0x1A0D17C4A1

PURGE_ACTION = "audit.purged"
# The youngest row the purge may ever delete, whatever cut-off a session declares: the database's own
# floor under retention, so that the application's role, which may set audit.purge_before like any
# setting, cannot empty the log (compliance.retention refuses a shorter RETENTION["audit"]).
PURGE_FLOOR_DAYS = 365

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION audit_auditlog_append_only() RETURNS trigger AS $$
DECLARE
    purge_before text := current_setting('audit.purge_before', true);
BEGIN
    -- The retention purge (compliance.retention) sets audit.purge_before with SET LOCAL; nothing else may
    -- delete, and even it cannot delete a row newer than the cut-off it declared, nor one younger than
    -- the floor (PURGE_FLOOR_DAYS), whatever it declared.
    IF TG_OP = 'DELETE' AND purge_before IS NOT NULL AND purge_before <> ''
       AND OLD.created_at < purge_before::timestamptz
       AND OLD.created_at < now() - interval '365 days' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit log is append-only: % of row #% refused', TG_OP, OLD.sequence
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION audit_auditlog_no_truncate() RETURNS trigger AS $$
BEGIN
    -- The test suite empties tables between transactional tests; it says so on its connections.
    IF current_setting('audit.allow_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit log is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS audit_auditlog_append_only ON audit_auditlog;
CREATE TRIGGER audit_auditlog_append_only BEFORE UPDATE OR DELETE ON audit_auditlog
    FOR EACH ROW EXECUTE FUNCTION audit_auditlog_append_only();
DROP TRIGGER IF EXISTS audit_auditlog_no_truncate ON audit_auditlog;
CREATE TRIGGER audit_auditlog_no_truncate BEFORE TRUNCATE ON audit_auditlog
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditlog_no_truncate();
"""

DROP_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS audit_auditlog_append_only ON audit_auditlog;
DROP TRIGGER IF EXISTS audit_auditlog_no_truncate ON audit_auditlog;
DROP FUNCTION IF EXISTS audit_auditlog_append_only();
DROP FUNCTION IF EXISTS audit_auditlog_no_truncate();
"""


def _key() -> bytes:
    key = settings.AUDIT_CHAIN_KEY
    if not key:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEY is not set: the audit log cannot be written.")
    return key.encode()


def _canonical(value):
    """
    The JSON value as it reads back from either database: PostgreSQL's jsonb returns an integral float
    (1e20) as an integer, so integral floats are hashed as integers.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def normalise_changes(changes: dict) -> dict:
    """What the JSON column will hand back: dates, UUIDs and decimals as strings."""
    return json.loads(json.dumps(changes, cls=DjangoJSONEncoder))


def _timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_digest(row, prev_hash: str) -> str:
    payload = json.dumps(
        [
            row.sequence,
            str(row.id),
            row.action,
            row.entity_type,
            row.entity_id,
            str(row.actor_id) if row.actor_id else None,
            _canonical(row.changes),
            row.ip_address,
            row.request_id,
            _timestamp(row.created_at),
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hmac.new(_key(), f"{prev_hash}\n{payload}".encode(), hashlib.sha256).hexdigest()


def _chain_head():
    return AuditLog.objects.order_by("-sequence").values_list("sequence", "hash").first() or (0, "")


@transaction.atomic
def append(rows: list) -> list:
    """
    Numbers, links and saves unsaved AuditLog rows, in order. Runs in the caller's transaction, whose
    end releases the lock: the next writer waits until this one has committed or rolled back.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_APPEND_LOCK_ID])
    sequence, prev_hash = _chain_head()
    for row in rows:
        sequence += 1
        row.sequence = sequence
        row.prev_hash = prev_hash
        row.hash = prev_hash = row_digest(row, prev_hash)
    if len(rows) == 1:
        rows[0].save(force_insert=True)
    else:
        AuditLog.objects.bulk_create(rows, batch_size=1000)
    return rows
