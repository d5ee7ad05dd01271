from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from common.locks import job_lock
from common.tasks import TRANSIENT_ERRORS, RetryingTask

from . import services
from .models import FileUpload
from .scanning import ScannerUnavailable


@shared_task(
    base=RetryingTask,
    bind=True,
    autoretry_for=(*TRANSIENT_ERRORS, ScannerUnavailable),
    time_limit=settings.UPLOAD_TASK_TIME_LIMIT,
    soft_time_limit=max(settings.UPLOAD_TASK_TIME_LIMIT - 30, 1),
)
def upload_process(self, upload_id: str) -> None:
    """
    Scan and analyse one upload. Database and broker errors (the first query's included) retry with
    backoff and, once the retries are spent, leave the upload for the stale sweep; a scanner outage
    retries too and then fails the upload with a reason its owner can read.
    """
    upload = FileUpload.objects.filter(pk=upload_id).first()
    if upload is None:
        return  # deleted before its turn came
    try:
        services.upload_process(upload=upload)
    except SoftTimeLimitExceeded:
        services.upload_fail(
            upload=upload, reason="Analysis took longer than the time allowed; the file was not analysed."
        )
    except ScannerUnavailable as error:
        # Eagerly (no worker) a retry would only ask the same scanner again at once.
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise  # autoretry_for retries it with backoff
        services.upload_fail(
            upload=upload, reason=f"The file could not be scanned for viruses ({error}); try again later."
        )


@shared_task(base=RetryingTask)
def upload_requeue_stale() -> int:
    with job_lock("upload_requeue_stale") as held:
        return services.upload_requeue_stale() if held else 0
