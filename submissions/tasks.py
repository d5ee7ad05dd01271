import logging
import smtplib

from celery import shared_task

from common.locks import job_lock
from common.tasks import TRANSIENT_ERRORS as OUTAGES
from common.tasks import RetryingTask

from . import services
from .models import FormSubmission

logger = logging.getLogger(__name__)

# Worth another try: the mail server, the database or the broker was briefly away.
TRANSIENT_ERRORS = (*OUTAGES, smtplib.SMTPException)
MAX_RETRIES = 3


@shared_task(
    base=RetryingTask,
    bind=True,
    autoretry_for=TRANSIENT_ERRORS,
    max_retries=MAX_RETRIES,
    retry_backoff=60,  # 1, 2, 4 minutes at most (full jitter)
)
def submission_process(self, submission_id: str):
    # A database error here retries as well (autoretry_for); spent retries leave the row `submitted`,
    # which the stale sweep queues again.
    submission = FormSubmission.objects.filter(pk=submission_id).first()
    if submission is None:  # erased (retention, GDPR) before a worker got to it
        return
    try:
        services.submission_process(submission=submission)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries < self.max_retries:
            raise  # autoretry_for retries it with backoff
        logger.warning("Submission %s failed after %d retries: %r", submission_id, self.max_retries, exc)
        services.submission_fail(
            submission=submission,
            error=f"Could not e-mail the sales inbox after {self.max_retries + 1} attempts "
            f"({type(exc).__name__}: {exc}).",
        )
    except Exception as exc:
        # Not something a retry fixes: end the row so it does not sit in `processing` for ever.
        logger.exception("Submission %s could not be processed", submission_id)
        services.submission_fail(
            submission=submission, error=f"Processing failed ({type(exc).__name__}: {exc})."
        )


@shared_task(base=RetryingTask)
def submission_requeue_stale() -> int:
    with job_lock("submission_requeue_stale") as held:
        return services.submission_requeue_stale() if held else 0
