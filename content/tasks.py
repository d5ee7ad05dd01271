from celery import shared_task

from common.tasks import TRANSIENT_ERRORS, RetryingTask

from .digest import case_study_digest_send as send
from .services import image_renditions_make as make


@shared_task(base=RetryingTask, autoretry_for=TRANSIENT_ERRORS)
def image_renditions_make(image_id: str) -> str | None:
    """
    The renditions of a library image (content.services), queued once its upload is committed. Database
    and broker errors retry with backoff; a file that cannot be rendered leaves the image `failed`.
    """
    image = make(image_id=image_id)
    return image.state if image else None


class DigestMailsFailed(Exception):
    """Some digest mails failed (the mail server refused or was down): the retry sends those only."""


@shared_task(base=RetryingTask, autoretry_for=(*TRANSIENT_ERRORS, DigestMailsFailed), retry_backoff=300)
def case_study_digest_send() -> dict:
    """
    The daily case-study digest (content.digest); safe to run again: nobody gets a digest twice. When
    mails failed, the task is retried with backoff (5 times, up to TASK_RETRY_BACKOFF_MAX apart), and
    each retry resumes the same digest, reaching only those it missed.
    """
    result = send()
    if result.failed:
        raise DigestMailsFailed(f"{result.failed} digest mails failed")
    return {
        "digest": str(result.digest.pk) if result.digest else None,
        "case_studies": result.case_studies,
        "sent": result.sent,
        "failed": result.failed,
        "resumed": result.resumed,
        "locked": result.locked,
    }
