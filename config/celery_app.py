import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("indivillage")
# Every CELERY_* Django setting configures Celery, so one settings module drives web, worker and beat.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect(dispatch_uid="config.forget_inherited_database_pools", weak=False)
def _forget_inherited_database_pools(**kwargs):
    """
    A prefork child must not touch the database pool it inherited (config/gunicorn.py says why).
    Celery's Django fixup already closes the pools in the parent before it forks (worker_init), and in
    the child it then calls close_pool() on the connections it finds: on an inherited open pool that
    would end the parent's sessions. This receiver is connected at import, before the fixup's own (at
    worker_init), so it runs first and leaves the fixup nothing inherited to close.
    """
    from common.pools import database_pools_forget

    database_pools_forget()
