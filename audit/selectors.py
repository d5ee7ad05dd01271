"""Reads of the audit log: the verification of its hash chain."""

import hmac
from collections import deque
from dataclasses import dataclass

from . import chain
from .models import AuditLog


@dataclass
class ChainReport:
    ok: bool
    checked: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    head_hash: str = ""
    problem: str = ""
    row_id: str = ""
    row_sequence: int | None = None


def _anchor_for(first):
    """The purge record that vouches for the rows before `first`, when the chain does not start at 1."""
    through = first.sequence - 1
    for changes in AuditLog.objects.filter(action=chain.PURGE_ACTION).values_list("changes", flat=True):
        if changes.get("through_sequence") == through and changes.get("through_hash") == first.prev_hash:
            return changes
    return None


def audit_chain_verify(*, chunk_size: int = 2000, progress=None) -> ChainReport:
    """
    Walks the chain in sequence order and stops at the first row that does not fit, saying whether it
    was altered (its content no longer matches its hash), inserted (it does not link to the row before
    it, but the row after it does) or whether rows before it were removed (a gap in the numbering).
    Reads in keyset-paginated chunks, so memory stays flat on millions of rows.
    """
    report = ChainReport(ok=True)
    fields = ["id", "sequence", "action", "entity_type", "entity_id", "actor_id", "changes"]
    fields += ["ip_address", "request_id", "created_at", "prev_hash", "hash"]
    base = AuditLog.objects.order_by("sequence").only(*fields)

    def fail(row, problem):
        report.ok = False
        report.problem = problem
        report.row_id = str(row.id)
        report.row_sequence = row.sequence
        return report

    expected_seq = None
    expected_prev = None
    after = None
    pending = deque()
    while True:
        if not pending:
            query = base if after is None else base.filter(sequence__gt=after)
            pending = deque(query[:chunk_size])
            if not pending:
                break
            after = pending[-1].sequence
        row = pending.popleft()
        if expected_seq is None:
            report.first_sequence = row.sequence
            if row.sequence == 1:
                if row.prev_hash:
                    return fail(row, f"row #1 ({row.id}) claims a predecessor: rows were inserted before it")
            elif _anchor_for(row) is None:
                return fail(
                    row,
                    f"rows #1 to #{row.sequence - 1} are missing before row #{row.sequence} ({row.id}),"
                    " and no retention purge recorded removing them",
                )
            expected_seq, expected_prev = row.sequence, row.prev_hash
        linked = row.sequence == expected_seq and row.prev_hash == expected_prev
        intact = hmac.compare_digest(chain.row_digest(row, row.prev_hash), row.hash)
        if not (linked and intact):
            if row.sequence > expected_seq and row.prev_hash != expected_prev:
                return fail(
                    row,
                    f"rows #{expected_seq} to #{row.sequence - 1} were removed before row #{row.sequence} ({row.id})",
                )
            if not pending:
                following = AuditLog.objects.filter(sequence__gt=row.sequence).order_by("sequence").first()
            else:
                following = pending[0]
            if following is not None and following.prev_hash == expected_prev:
                return fail(row, f"row #{row.sequence} ({row.id}) was inserted: the chain runs past it")
            if not linked:
                return fail(
                    row,
                    f"row #{row.sequence} ({row.id}) was inserted or renumbered: it does not link to the row"
                    " before it",
                )
            return fail(
                row,
                f"row #{row.sequence} ({row.id}) was altered or forged: its content does not match its hash",
            )
        report.checked += 1
        report.last_sequence = row.sequence
        report.head_hash = row.hash
        expected_seq, expected_prev = row.sequence + 1, row.hash
        if progress is not None:
            progress(report.checked)
    return report
