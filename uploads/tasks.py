from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import OperationalError


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=5,
    time_limit=settings.UPLOAD_TASK_TIME_LIMIT,
    soft_time_limit=max(settings.UPLOAD_TASK_TIME_LIMIT - 30, 1),
)
def upload_process(self, upload_id: str) -> None:
    """Scan and analyse one upload; transient failures retry with backoff, the last one fails it."""
    from .models import FileUpload
    from .scanning import ScannerUnavailable
    from .services import upload_fail
    from .services import upload_process as process

    upload = FileUpload.objects.filter(pk=upload_id).first()
    if upload is None:
        return  # deleted before its turn came
    try:
        process(upload=upload)
    except SoftTimeLimitExceeded:
        upload_fail(
            upload=upload, reason="Analysis took longer than the time allowed; the file was not analysed."
        )
    except (ScannerUnavailable, OperationalError) as error:
        if self.request.retries >= self.max_retries or self.request.is_eager:
            upload_fail(
                upload=upload, reason=f"The file could not be scanned for viruses ({error}); try again later."
            )
            return
        raise self.retry(exc=error, countdown=min(600, 10 * 2**self.request.retries)) from error
