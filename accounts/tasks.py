from celery import shared_task

from common.tasks import RetryingTask

from . import verification
from .models import User


@shared_task(base=RetryingTask)
def email_verification_send(user_id: str, kind: str):
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:  # erased or deactivated before a worker got to it
        return
    verification.email_verification_send(user=user, kind=kind)
