from django.db import models
from django.utils import timezone

from common.models import BaseModel


class JobLock(BaseModel):
    """
    A named lock held by one run of a periodic job, in the database so that it works the same on SQLite
    and PostgreSQL and across hosts. `expires_at` frees a lock whose holder died without releasing it.
    """

    name = models.CharField(max_length=100, unique=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} held by {self.holder} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class Heartbeat(BaseModel):
    """The last sign of life of a long-running process (Celery beat), for readiness to read."""

    name = models.CharField(max_length=100, unique=True)
    beat_at = models.DateTimeField(default=timezone.now)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} at {self.beat_at:%Y-%m-%d %H:%M:%S}"
