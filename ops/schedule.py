"""
The periodic jobs of DESIGN.md, installed into django-celery-beat's tables on migrate. Installed once
per name and then left alone: an operator's edit in the admin (another time, disabled) survives every
later migrate. A task missing from here stays as the admin left it.
"""

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str
    task: str
    description: str
    crontab: dict | None = None  # minute, hour, day_of_week, day_of_month, month_of_year
    every_seconds: int | None = None
    kwargs: dict | None = None


SCHEDULE = [
    Job(
        "apply retention policies",
        "compliance.tasks.retention_apply",
        "Anonymises inactive users, deletes old uploads and submissions, purges old audit rows and trash.",
        crontab={"minute": "30", "hour": "2"},
    ),
    Job(
        "send the case-study digest",
        "content.tasks.case_study_digest_send",
        "Mails the case studies published since the last digest to the users who turned the digest on "
        "(at 09:00 in India); a second run the same day sends only to those the first did not reach.",
        crontab={"minute": "30", "hour": "3"},
    ),
    Job(
        "verify the audit chain",
        "audit.tasks.audit_chain_verify",
        "Recomputes the audit log's hash chain; logs an error naming the first tampered row.",
        crontab={"minute": "0", "hour": "4"},
    ),
    Job(
        "requeue stale form submissions",
        "submissions.tasks.submission_requeue_stale",
        "Queues the submissions the broker refused (at once) and those whose e-mail task was lost "
        "(after 10 minutes). Every 30 s, so that forms stored while Redis was down are queued within a "
        "minute of its return.",
        every_seconds=30,
    ),
    Job(
        "requeue stale uploads",
        "uploads.tasks.upload_requeue_stale",
        "Queues again the uploads left uploaded or processing past UPLOAD_STALE_AFTER (their task was lost: "
        "the database was down through its retries, the worker crashed).",
        every_seconds=10 * 60,
    ),
    Job(
        "hourly database backup",
        "ops.tasks.backup_create",
        "pg_dump into STORAGES['backups'], kept BACKUP_KEEP_HOURLY_DAYS (7) days.",
        crontab={"minute": "15"},
        kwargs={"tier": "hourly"},
    ),
    Job(
        "daily database backup, verified",
        "ops.tasks.backup_create",
        "The daily backup, kept BACKUP_KEEP_DAILY_DAYS (30) days, then restored into a scratch database "
        "and compared table by table with its manifest.",
        crontab={"minute": "45", "hour": "1"},
        kwargs={"tier": "daily", "verify": True},
    ),
    Job(
        "prune old backups",
        "ops.tasks.backups_prune",
        "Deletes expired hourly and daily backups; keeps manual ones and the newest verified backup.",
        crontab={"minute": "35", "hour": "3"},
    ),
    Job(
        "verify a random recent backup",
        "ops.tasks.backup_verify_random",
        "Weekly: restores a random backup of the last 7 days into a scratch database and checks it.",
        crontab={"minute": "0", "hour": "5", "day_of_week": "0"},
    ),
]


def beat_schedule_install(*, using: str = "default") -> list[str]:
    """Creates the periodic tasks that do not exist yet; returns their names."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    created = []
    existing = set(PeriodicTask.objects.using(using).values_list("name", flat=True))
    for job in SCHEDULE:
        if job.name in existing:
            continue
        if job.crontab is not None:
            crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
                timezone="UTC",
                **{"minute": "*", "hour": "*", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"}
                | job.crontab,
            )
            schedule = {"crontab": crontab}
        else:
            interval, _ = IntervalSchedule.objects.using(using).get_or_create(
                every=job.every_seconds, period=IntervalSchedule.SECONDS
            )
            schedule = {"interval": interval}
        PeriodicTask.objects.using(using).create(
            name=job.name,
            task=job.task,
            description=job.description,
            kwargs=json.dumps(job.kwargs or {}),
            **schedule,
        )
        created.append(job.name)
    return created
