import logging

from celery import shared_task

from common.locks import job_lock
from common.tasks import RetryingTask

from .selectors import audit_chain_verify as verify

logger = logging.getLogger(__name__)


@shared_task(base=RetryingTask)
def audit_chain_verify() -> dict:
    with job_lock("verify_audit_chain") as held:
        if not held:
            return {"skipped": True}
        report = verify()
    if not report.ok:
        # An error in the worker log (and whatever watches it): nothing else should fix this silently.
        logger.error("Audit chain broken: %s", report.problem)
    return {"ok": report.ok, "checked": report.checked, "problem": report.problem}
