"""
Celery beat on django-celery-beat's DatabaseScheduler, plus a heartbeat: beat writes the time of its
last tick to ops.Heartbeat, so readiness can tell a stopped beat (no backups, no retention) from a quiet
one. Set by CELERY_BEAT_SCHEDULER.
"""

import logging
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

from .models import Heartbeat

logger = logging.getLogger(__name__)

BEAT_HEARTBEAT = "celery-beat"
# Beat ticks every few seconds; the row needs no more than one write in this long.
HEARTBEAT_EVERY = timedelta(seconds=30)


def heartbeat_record(name: str = BEAT_HEARTBEAT, *, details: dict | None = None) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "details": details or {}}
    )


def heartbeat_age(name: str = BEAT_HEARTBEAT) -> timedelta | None:
    beat_at = Heartbeat.objects.filter(name=name).values_list("beat_at", flat=True).first()
    return None if beat_at is None else timezone.now() - beat_at


class HeartbeatScheduler(DatabaseScheduler):
    _last_heartbeat = None

    def tick(self, *args, **kwargs):
        now = timezone.now()
        if self._last_heartbeat is None or now - self._last_heartbeat >= HEARTBEAT_EVERY:
            try:
                heartbeat_record(details={"schedules": len(self.schedule)})
                self._last_heartbeat = now
            except DatabaseError:
                # Beat keeps scheduling; readiness will see the heartbeat age and say so.
                logger.warning("beat heartbeat could not be written", exc_info=True)
        return super().tick(*args, **kwargs)
