"""
The backup jobs of the beat schedule (ops/schedule.py). Thin: the work is in ops/backups.py. They share
one lock, so that a slow daily backup and the next hourly one never dump at the same time.
"""

import logging
from datetime import timedelta

from celery import shared_task

from common.tasks import RetryingTask

logger = logging.getLogger(__name__)

BACKUP_LOCK = "backups"
BACKUP_LOCK_TTL = timedelta(hours=3)


@shared_task(base=RetryingTask)
def backup_database(tier: str, verify: bool = False) -> dict:
    """A backup of the tier; with `verify`, proven at once by restoring it into a scratch database."""
    from .backups import backup_create, backup_verify
    from .locks import job_lock

    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            logger.warning("backup_database(%s): another backup job holds the lock; skipped", tier)
            return {"skipped": True}
        record = backup_create(tier=tier)
        outcome = {"name": record.name, "size": record.size}
        if verify:
            result = backup_verify(record.name)
            outcome.update(verified=result.ok, problems=result.problems)
    return outcome


@shared_task(base=RetryingTask)
def prune_backups() -> dict:
    from .backups import backups_prune
    from .locks import job_lock

    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            return {"skipped": True}
        result = backups_prune()
    return {"deleted": len(result.deleted), "kept_newest_verified": result.kept_newest_verified}


@shared_task(base=RetryingTask)
def verify_random_backup() -> dict:
    """The weekly proof that an older backup still restores, not only last night's."""
    from .backups import BackupError, backup_pick, backup_verify
    from .locks import job_lock

    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            return {"skipped": True}
        try:
            name = backup_pick(pick_random=True)
        except BackupError as error:
            logger.error("verify_random_backup: %s", error)
            return {"ok": False, "problem": str(error)}
        result = backup_verify(name)
    return {"name": name, "ok": result.ok, "problems": result.problems}
