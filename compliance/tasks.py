import logging

from celery import shared_task

from common.tasks import RetryingTask

from .retention import retention_apply as apply

logger = logging.getLogger(__name__)


@shared_task(base=RetryingTask)
def retention_apply() -> dict:
    run = apply()  # takes its own lock: an overlapping run is a no-op
    if run.locked_out:
        logger.info("retention_apply: another run holds the lock; skipped")
        return {"skipped": True}
    return {r.name: r.done for r in run.results}
