import logging
import smtplib

from celery import shared_task
from django.db import OperationalError

logger = logging.getLogger(__name__)

# Worth another try: the mail server or the database was briefly away.
TRANSIENT_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError, OperationalError)
MAX_RETRIES = 3


def _backoff(retries: int) -> int:
    return min(60 * 2**retries, 15 * 60)  # 1, 2, 4 minutes


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=MAX_RETRIES)
def submission_process(self, submission_id: str):
    from .models import FormSubmission
    from .services import submission_fail
    from .services import submission_process as process

    submission = FormSubmission.objects.filter(pk=submission_id).first()
    if submission is None:  # erased (retention, GDPR) before a worker got to it
        return
    try:
        process(submission=submission)
    except TRANSIENT_ERRORS as exc:
        if self.request.retries < self.max_retries:
            # On a worker, retry() raises Retry as usual. Run eagerly (tests, the embedded mode) with
            # task_eager_propagates, a raised Retry would escape instead of retrying; returned, it
            # makes apply() run the next attempt in-process.
            return self.retry(
                exc=exc, countdown=_backoff(self.request.retries), throw=not self.request.is_eager
            )
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


@shared_task(acks_late=True)
def submission_requeue_stale() -> int:
    from ops.locks import job_lock

    from .services import submission_requeue_stale as requeue

    with job_lock("submission_requeue_stale") as held:
        return requeue() if held else 0
