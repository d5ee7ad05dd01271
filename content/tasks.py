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


@shared_task(base=RetryingTask, autoretry_for=TRANSIENT_ERRORS)
def case_study_digest_send() -> dict:
    """The daily case-study digest (content.digest); safe to run again: nobody gets a digest twice."""
    result = send()
    return {
        "digest": str(result.digest.pk) if result.digest else None,
        "case_studies": result.case_studies,
        "sent": result.sent,
        "failed": result.failed,
        "resumed": result.resumed,
        "locked": result.locked,
    }
