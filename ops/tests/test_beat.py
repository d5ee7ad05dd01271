"""Beat: the schedule installed on migrate and left to the admin afterwards, the heartbeat, the locks."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from common.locks import job_lock
from common.models import JobLock
from config.celery_app import app
from ops import beat
from ops.beat import BEAT_HEARTBEAT, heartbeat_record
from ops.models import Heartbeat
from ops.schedule import SCHEDULE, beat_schedule_install

pytestmark = pytest.mark.django_db


def test_migrate_installed_the_schedule_of_the_design_with_tasks_that_exist():
    installed = {t.name: t for t in PeriodicTask.objects.all()}
    assert {job.name for job in SCHEDULE} <= set(installed)
    app.loader.import_default_modules()
    for job in SCHEDULE:
        task = installed[job.name]
        assert task.task in app.tasks, f"{task.task} is not a registered task"
        assert task.enabled
    retention = installed["apply retention policies"]
    assert (retention.crontab.hour, retention.crontab.minute) == ("2", "30")


def test_the_submissions_sweep_runs_every_30_seconds_and_old_schedules_are_moved_unless_edited():
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection
    from django_celery_beat.models import IntervalSchedule

    sweep = PeriodicTask.objects.get(name="requeue stale form submissions")
    assert (sweep.interval.every, sweep.interval.period) == (30, IntervalSchedule.SECONDS)

    migration = import_module("ops.migrations.0003_requeue_submissions_every_30_seconds")
    editor = SimpleNamespace(connection=connection)  # all the function reads of its schema editor
    ten, _ = IntervalSchedule.objects.get_or_create(every=10, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.filter(pk=sweep.pk).update(interval=ten)  # installed before this release
    migration.every_30_seconds(apps, editor)
    moved = PeriodicTask.objects.get(pk=sweep.pk).interval
    assert (moved.every, moved.period) == (30, IntervalSchedule.SECONDS)

    five, _ = IntervalSchedule.objects.get_or_create(every=5, period=IntervalSchedule.MINUTES)
    PeriodicTask.objects.filter(pk=sweep.pk).update(interval=five)  # an operator's choice
    migration.every_30_seconds(apps, editor)
    assert PeriodicTask.objects.get(pk=sweep.pk).interval.every == 5


def test_installing_again_keeps_an_operators_edits():
    task = PeriodicTask.objects.get(name="verify the audit chain")
    task.enabled = False
    task.save()
    PeriodicTask.objects.filter(name="apply retention policies").delete()
    assert beat_schedule_install() == ["apply retention policies"]
    assert PeriodicTask.objects.get(name="verify the audit chain").enabled is False


def test_beat_writes_a_heartbeat_at_most_every_thirty_seconds(monkeypatch):
    ticks = []
    monkeypatch.setattr(beat.DatabaseScheduler, "tick", lambda self, *a, **k: ticks.append(1) or 5.0)
    monkeypatch.setattr(beat.HeartbeatScheduler, "schedule", {"a": 1, "b": 2}, raising=False)
    scheduler = beat.HeartbeatScheduler.__new__(beat.HeartbeatScheduler)  # no broker or app needed
    assert beat.heartbeat_age() is None
    assert scheduler.tick() == 5.0
    first = Heartbeat.objects.get(name=beat.BEAT_HEARTBEAT)
    assert first.details == {"schedules": 2}
    scheduler.tick()
    assert Heartbeat.objects.get(name=beat.BEAT_HEARTBEAT).beat_at == first.beat_at
    scheduler._last_heartbeat = timezone.now() - timedelta(seconds=31)
    scheduler.tick()
    assert Heartbeat.objects.get(name=beat.BEAT_HEARTBEAT).beat_at > first.beat_at
    assert len(ticks) == 3
    assert beat.heartbeat_age() < timedelta(seconds=5)


def test_a_job_lock_is_held_once_and_released():
    with job_lock("job") as first:
        assert first
        with job_lock("job") as second:
            assert not second
        assert JobLock.objects.filter(name="job").count() == 1
    assert not JobLock.objects.filter(name="job").exists()
    with job_lock("job") as again:
        assert again


def test_a_job_lock_is_released_when_the_job_fails():
    with pytest.raises(ZeroDivisionError), job_lock("job"):
        1 / 0
    assert not JobLock.objects.exists()


def test_periodic_tasks_skip_while_their_lock_is_held():
    from audit.tasks import audit_chain_verify

    with job_lock("verify_audit_chain"):
        assert audit_chain_verify.apply().get() == {"skipped": True}
    assert audit_chain_verify.apply().get()["ok"] is True


def test_beat_alive_command_follows_the_heartbeat():
    # The compose health check of the beat container: fails with no heartbeat or an old one.
    with pytest.raises(CommandError, match="no heartbeat yet"):
        call_command("beat_alive", stdout=StringIO())
    heartbeat_record()
    out = StringIO()
    call_command("beat_alive", "--max-age", "120", stdout=out)
    assert "celery-beat: last heartbeat" in out.getvalue()
    Heartbeat.objects.filter(name=BEAT_HEARTBEAT).update(beat_at=timezone.now() - timedelta(seconds=200))
    with pytest.raises(CommandError, match="older than 120 s"):
        call_command("beat_alive", "--max-age", "120", stdout=StringIO())
