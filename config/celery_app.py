import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("indivillage")
# Every CELERY_* Django setting configures Celery, so one settings module drives web, worker and beat.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
