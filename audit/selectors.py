"""Reads of the audit log: the verification of its hash chain."""

import hmac
from dataclasses import dataclass

from django.db.models import Q

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


def _rows(chunk_size: int):
    """The chain in sequence order, read in keyset-paginated chunks: memory stays flat on millions of rows."""
    fields = ["id", "sequence", "action", "entity_type", "entity_id", "actor_id", "changes"]
    fields += ["ip_address", "request_id", "created_at", "prev_hash", "hash"]
    base = AuditLog.objects.order_by("sequence").only(*fields)
    after = None
    while True:
        chunk = list((base if after is None else base.filter(sequence__gt=after))[:chunk_size])
        if not chunk:
            return
        after = chunk[-1].sequence
        yield from chunk


def _start_problem(row) -> str | None:
    """What is wrong with the first row: a predecessor claimed at #1, or a gap no purge accounts for."""
    if row.sequence == 1:
        if row.prev_hash:
            return f"row #1 ({row.id}) claims a predecessor: rows were inserted before it"
    elif _anchor_for(row) is None:
        return (
            f"rows #1 to #{row.sequence - 1} are missing before row #{row.sequence} ({row.id}),"
            " and no retention purge recorded removing them"
        )
    return None


def _break_problem(row, following, expected_seq: int, expected_prev: str, linked: bool) -> str:
    """Why a row does not fit: rows removed before it, it inserted, or its content altered."""
    if row.sequence > expected_seq and row.prev_hash != expected_prev:
        return (
            f"rows #{expected_seq} to #{row.sequence - 1} were removed before row #{row.sequence} ({row.id})"
        )
    if following is not None and following.prev_hash == expected_prev:
        return f"row #{row.sequence} ({row.id}) was inserted: the chain runs past it"
    if not linked:
        return f"row #{row.sequence} ({row.id}) was inserted or renumbered: it does not link to the row before it"
    return f"row #{row.sequence} ({row.id}) was altered or forged: its content does not match its hash"


def audit_chain_verify(*, chunk_size: int = 2000, progress=None) -> ChainReport:
    """
    Walks the chain in sequence order and stops at the first row that does not fit, saying whether it
    was altered, inserted, or whether rows before it were removed.
    """
    report = ChainReport(ok=True)
    rows = _rows(chunk_size)
    row = next(rows, None)
    if row is None:
        return report
    report.first_sequence = row.sequence
    problem = _start_problem(row)
    expected_seq, expected_prev = row.sequence, row.prev_hash
    while row is not None and problem is None:
        following = next(rows, None)
        linked = row.sequence == expected_seq and row.prev_hash == expected_prev
        if not (linked and hmac.compare_digest(chain.row_digest(row, row.prev_hash), row.hash)):
            problem = _break_problem(row, following, expected_seq, expected_prev, linked)
            break
        report.checked += 1
        report.last_sequence = row.sequence
        report.head_hash = row.hash
        expected_seq, expected_prev = row.sequence + 1, row.hash
        if progress is not None:
            progress(report.checked)
        row = following
    if problem is not None:
        report.ok = False
        report.problem = problem
        report.row_id = str(row.id)
        report.row_sequence = row.sequence
    return report


def audit_purge_boundary(*, cutoff, held_user_ids: list[str]) -> int:
    """
    The last sequence number a retention purge may remove. The chain can only lose a prefix (the anchor
    vouches for what came before the first row left), so it stops before the first row not yet due, and
    before the first expired row by or about a user on legal hold.
    """
    rows = AuditLog.objects.all()
    first_kept = rows.filter(created_at__gte=cutoff).order_by("sequence").values_list("sequence", flat=True)
    boundary = first_kept.first()
    if held_user_ids:
        held_rows = rows.filter(created_at__lt=cutoff).filter(
            Q(actor_id__in=held_user_ids) | Q(entity_type="accounts.user", entity_id__in=held_user_ids)
        )
        first_held = held_rows.order_by("sequence").values_list("sequence", flat=True).first()
        if first_held is not None and (boundary is None or first_held < boundary):
            boundary = first_held
    if boundary is None:
        last = rows.order_by("-sequence").values_list("sequence", flat=True).first()
        return last or 0
    return boundary - 1
