"""
Named locks for periodic jobs, held in the database (ops.JobLock) so that they work the same on SQLite
and PostgreSQL, across hosts and across worker processes.

A lock is taken in its own short transaction and released explicitly; `expires_at` frees the lock of a
holder that died without releasing it. Take it outside any transaction: inside one, the row would not be
visible to the other runs until that transaction commits.
"""

import os
import socket
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.ids import uuid7

from .models import JobLock


def job_lock_acquire(name: str, *, ttl: timedelta) -> str | None:
    """Returns a holder token when the lock was free (or expired), None when another run holds it."""
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid7().hex[-8:]}"
    now = timezone.now()
    with transaction.atomic():
        JobLock.objects.filter(name=name, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            JobLock.objects.create(name=name, holder=holder, expires_at=now + ttl)
    except IntegrityError:
        return None
    return holder


def job_lock_release(name: str, holder: str) -> None:
    JobLock.objects.filter(name=name, holder=holder).delete()


@contextmanager
def job_lock(name: str, *, ttl: timedelta = timedelta(hours=6)):
    """
    `with job_lock("apply_retention") as held:` -- `held` is False when another run has the lock; the
    caller then does nothing. The ttl must outlast the longest honest run.
    """
    holder = job_lock_acquire(name, ttl=ttl)
    try:
        yield holder is not None
    finally:
        if holder is not None:
            job_lock_release(name, holder)
