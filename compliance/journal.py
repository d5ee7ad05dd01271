"""
The erasure journal: every erasure, appended after commit and fsync'ed to a file outside the database
(ERASURE_JOURNAL_PATH), because a restore brings back the rows an erasure removed, ErasureRecords
included. Ids and blind-index hashes only, never an address.
"""

import fcntl
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.conf import settings

from .models import ErasureRecord

logger = logging.getLogger(__name__)


def journal_path() -> Path:
    return Path(settings.ERASURE_JOURNAL_PATH)


def journal_entry(record: ErasureRecord) -> dict:
    return {
        "record_id": str(record.pk),
        "user_id": str(record.user_id) if record.user_id else None,
        "email_hash": record.email_hash,
        "erased_at": record.erased_at.isoformat(),
        "reason": record.reason,
        "actor_id": str(record.actor_id) if record.actor_id else None,
    }


def journal_append(entries: list[dict]) -> None:
    """Appends one line per entry and waits until they are on disk."""
    if not entries:
        return
    path = journal_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    data = "".join(json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n" for entry in entries)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # Whole lines only, even with two processes erasing at once.
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data.encode())
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        # A new file survives a crash only once its directory entry is on disk too.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def journal_append_safely(entries: list[dict]) -> None:
    # After commit the erasure has happened whatever this does; a failure must be loud, not a 500.
    # The ErasureRecord rows are still there, and the next replay writes the missing lines.
    try:
        journal_append(entries)
    except OSError:
        logger.exception(
            "Erasure(s) %s committed but not written to the journal %s: run replay_erasures to repair it",
            ", ".join(entry["record_id"] for entry in entries),
            journal_path(),
        )


@dataclass
class JournalRead:
    entries: list[dict] = field(default_factory=list)
    unreadable: int = 0


def journal_read() -> JournalRead:
    """Every entry of the journal. A torn line (a crash in mid-write) is counted, not fatal."""
    result = JournalRead()
    try:
        handle = journal_path().open(encoding="utf-8")
    except FileNotFoundError:
        return result
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                entry["erased_at"] = datetime.fromisoformat(entry["erased_at"])
                entry["record_id"] = str(entry["record_id"])
                # None: a visitor's forms were erased (visitor_data_erase), no account.
                entry["user_id"] = str(entry["user_id"]) if entry["user_id"] else None
            except (ValueError, KeyError, TypeError):
                logger.warning("Erasure journal %s: line %d is not readable", journal_path(), number)
                result.unreadable += 1
                continue
            result.entries.append(entry)
    return result
