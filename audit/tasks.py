import logging

from celery import shared_task

from common.tasks import RetryingTask

logger = logging.getLogger(__name__)


@shared_task(base=RetryingTask)
def apply_retention() -> dict:
    from .retention import retention_apply

    run = retention_apply()  # takes its own lock: an overlapping run is a no-op
    if run.locked_out:
        logger.info("apply_retention: another run holds the lock; skipped")
        return {"skipped": True}
    return {r.name: r.done for r in run.results}


@shared_task(base=RetryingTask)
def verify_audit_chain() -> dict:
    from ops.locks import job_lock

    from .chain import verify

    with job_lock("verify_audit_chain") as held:
        if not held:
            return {"skipped": True}
        report = verify()
    if not report.ok:
        # An error in the worker log (and whatever watches it): nothing else should fix this silently.
        logger.error("Audit chain broken: %s", report.problem)
    return {"ok": report.ok, "checked": report.checked, "problem": report.problem}
