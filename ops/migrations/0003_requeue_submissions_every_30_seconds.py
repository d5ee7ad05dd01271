from django.db import migrations

TASK = "submissions.tasks.submission_requeue_stale"


def every_30_seconds(apps, schema_editor):
    """
    The submissions sweep moves from every 10 minutes to every 30 seconds (forms the broker refused are
    queued within a minute of its return). ops.schedule installs a job once and then leaves it alone, so
    existing schedules are moved here, but only where they are still at the old default: an interval an
    operator chose in the admin is kept. A new database gets the job from ops.schedule after migrate.
    """
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    db = schema_editor.connection.alias
    old = PeriodicTask.objects.using(db).filter(task=TASK, interval__every=10, interval__period="minutes")
    if not old.exists():
        return
    half_minute, _ = IntervalSchedule.objects.using(db).get_or_create(every=30, period="seconds")
    old.update(interval=half_minute)


def every_10_minutes(apps, schema_editor):
    """The reverse: the sweeps still at 30 seconds go back to the old default of 10 minutes."""
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    db = schema_editor.connection.alias
    new = PeriodicTask.objects.using(db).filter(task=TASK, interval__every=30, interval__period="seconds")
    if not new.exists():
        return
    ten_minutes, _ = IntervalSchedule.objects.using(db).get_or_create(every=10, period="minutes")
    new.update(interval=ten_minutes)


class Migration(migrations.Migration):
    dependencies = [
        ("ops", "0002_backuprecord"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(every_30_seconds, every_10_minutes)]
