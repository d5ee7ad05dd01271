import logging
import smtplib

from celery import shared_task

from common.tasks import TRANSIENT_ERRORS as OUTAGES
from common.tasks import RetryingTask

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
    from .models import FormSubmission
    from .services import submission_fail
    from .services import submission_process as process

    # A database error here retries as well (autoretry_for); spent retries leave the row `submitted`,
    # which the stale sweep queues again.
    submission = FormSubmission.objects.filter(pk=submission_id).first()
    if submission is None:  # erased (retention, GDPR) before a worker got to it
        return
    try:
        process(submission=submission)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries < self.max_retries:
            raise  # autoretry_for retries it with backoff
        logger.warning("Submission %s failed after %d retries: %r", submission_id, self.max_retries, exc)
        submission_fail(
            submission=submission,
            error=f"Could not e-mail the sales inbox after {self.max_retries + 1} attempts "
            f"({type(exc).__name__}: {exc}).",
        )
    except Exception as exc:
        # Not something a retry fixes: end the row so it does not sit in `processing` for ever.
        logger.exception("Submission %s could not be processed", submission_id)
        submission_fail(submission=submission, error=f"Processing failed ({type(exc).__name__}: {exc}).")


@shared_task(base=RetryingTask)
def submission_requeue_stale() -> int:
    from ops.locks import job_lock

    from .services import submission_requeue_stale as requeue

    with job_lock("submission_requeue_stale") as held:
        return requeue() if held else 0
