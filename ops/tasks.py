"""
The backup jobs of the beat schedule (ops/schedule.py). Thin: the work is in ops/backups.py. They share
one lock, so that a slow daily backup and the next hourly one never dump at the same time.
"""

import logging
from datetime import timedelta

from celery import shared_task

from common.locks import job_lock
from common.tasks import RetryingTask

from . import backup_verification, backups

logger = logging.getLogger(__name__)

BACKUP_LOCK = "backups"
BACKUP_LOCK_TTL = timedelta(hours=3)


@shared_task(base=RetryingTask)
def backup_create(tier: str, verify: bool = False) -> dict:
    """A backup of the tier; with `verify`, proven at once by restoring it into a scratch database."""
    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            logger.warning("backup_create(%s): another backup job holds the lock; skipped", tier)
            return {"skipped": True}
        record = backups.backup_create(tier=tier)
        outcome = {"name": record.name, "size": record.size}
        if verify:
            result = backup_verification.backup_verify(record.name)
            outcome.update(verified=result.ok, problems=result.problems)
    return outcome


@shared_task(base=RetryingTask)
def backups_prune() -> dict:
    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            return {"skipped": True}
        result = backups.backups_prune()
    return {"deleted": len(result.deleted), "kept_newest_verified": result.kept_newest_verified}


@shared_task(base=RetryingTask)
def backup_verify_random() -> dict:
    """The weekly proof that an older backup still restores, not only last night's."""
    with job_lock(BACKUP_LOCK, ttl=BACKUP_LOCK_TTL) as held:
        if not held:
            return {"skipped": True}
        try:
            result = backup_verification.backup_verify_random()
        except backups.BackupError as error:
            logger.error("backup_verify_random: %s", error)
            return {"ok": False, "problem": str(error)}
    return {"name": result.name, "ok": result.ok, "problems": result.problems}
