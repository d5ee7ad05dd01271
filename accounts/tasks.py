from celery import shared_task

from common.tasks import RetryingTask


@shared_task(base=RetryingTask)
def email_verification_send(user_id: str, kind: str):
    from .models import User
    from .verification import email_verification_mail

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:  # erased or deactivated before a worker got to it
        return
    email_verification_mail(user=user, kind=kind)
