"""Reads of the audit app: the personal-data export (GDPR art. 15 and 20) is assembled here."""

import logging

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from audit.models import AuditLog
from common.crypto import email_blind_index
from submissions.models import FormSubmission
from uploads.models import FileUpload

logger = logging.getLogger(__name__)

USER_ENTITY_TYPE = "accounts.user"


def _iso(value):
    return value.isoformat() if value else None


def user_submissions(*, user, email_hash: str | None = None) -> QuerySet[FormSubmission]:
    """
    Everything the person sent through the forms: while signed in (by account) and, once the account has
    proved it controls its address (email_verified_at), as a visitor with that address (by the e-mail
    blind index, since the data itself is encrypted and cannot be searched). Without that proof anyone
    could register a visitor's address and read or erase their forms.
    """
    if user.email_verified_at is None:
        return FormSubmission.objects.filter(user=user)
    email_hash = email_hash or email_blind_index(user.email)
    return FormSubmission.objects.filter(Q(user=user) | Q(email_hash=email_hash))


def visitor_submissions(*, email_hash: str) -> QuerySet[FormSubmission]:
    """The forms sent without an account with the address behind `email_hash` (its blind index)."""
    return FormSubmission.objects.filter(email_hash=email_hash, user__isnull=True)


def user_audit_events(*, user) -> QuerySet[AuditLog]:
    """What the log says about the user, and what the user did."""
    return AuditLog.objects.filter(
        Q(entity_type=USER_ENTITY_TYPE, entity_id=str(user.pk)) | Q(actor_id=user.pk)
    ).order_by("sequence")


def _analysis(upload: FileUpload) -> dict | None:
    analysis = getattr(upload, "analysis", None)
    if analysis is None:
        return None
    try:
        details = analysis.details
    except (OSError, ValueError):
        # A lost or unreadable document must not block the rest of the export; the summary still goes.
        logger.exception("Analysis document of upload %s could not be read for an export", upload.pk)
        details = None
    return {"summary": analysis.summary, "details": details}


def user_export_document(*, user) -> dict:
    """
    One JSON-serialisable document with the personal data held about `user`, decrypted. Four queries
    whatever the volume, plus one storage read per analysis document.
    """
    submissions = user_submissions(user=user).prefetch_related("services").order_by("created_at", "id")
    uploads = FileUpload.objects.filter(user=user).select_related("analysis").order_by("created_at", "id")
    return {
        "generated_at": timezone.now().isoformat(),
        "user": _profile(user),
        "submissions": [_submission(submission, user) for submission in submissions],
        "uploads": [_upload(upload) for upload in uploads],
        "audit_events": [_event(event, user) for event in user_audit_events(user=user)],
    }


def _profile(user) -> dict:
    return {
        "id": str(user.pk),
        "email": user.email,
        "name": user.name,
        "company": user.company,
        "phone": user.phone,
        "country": str(user.country or ""),
        "role": user.role,
        "is_active": user.is_active,
        "preferences": user.preferences if isinstance(user.preferences, dict) else {},
        "legal_hold": user.legal_hold,
        "created_at": _iso(user.created_at),
        "updated_at": _iso(user.updated_at),
        "last_login": _iso(user.last_login),
        "email_verified_at": _iso(user.email_verified_at),
        "anonymized_at": _iso(user.anonymized_at),
    }


def _submission(submission, user) -> dict:
    return {
        "id": str(submission.pk),
        "form_type": submission.form_type,
        "status": submission.status,
        "data": submission.data if isinstance(submission.data, dict) else {},
        "services": sorted(service.slug for service in submission.services.all()),
        "via_account": submission.user_id == user.pk,
        "created_at": _iso(submission.created_at),
    }


def _upload(upload) -> dict:
    return {
        "id": str(upload.pk),
        "filename": upload.filename,
        "size": upload.size,
        "mime_type": upload.mime_type,
        "sha256": upload.sha256,
        "status": upload.status,
        "created_at": _iso(upload.created_at),
        "processed_at": _iso(upload.processed_at),
        "analysis": _analysis(upload),
    }


def _event(event, user) -> dict:
    return {
        "id": str(event.pk),
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "by_user": event.actor_id == user.pk,
        "changes": event.changes,
        "ip_address": event.ip_address,
        "created_at": _iso(event.created_at),
    }


def user_erasure_preview(*, users) -> list[dict]:
    """
    For the admin's confirmation page: what erasing each user would delete. Two queries for any number
    of users (the submissions are matched in Python, by account or by the blind index of the address).
    """
    users = list(users)
    # Visitor forms count only for a verified address, as in user_submissions.
    hashes = {user.pk: email_blind_index(user.email) for user in users if user.email_verified_at}
    uploads = dict(
        FileUpload.objects.filter(user__in=users)
        .values("user")
        .annotate(n=Count("id"))
        .values_list("user", "n")
    )
    found = FormSubmission.objects.filter(
        Q(user__in=users) | Q(email_hash__in=set(hashes.values()))
    ).values_list("pk", "user_id", "email_hash")
    submissions = {user.pk: set() for user in users}
    for pk, user_id, email_hash in found:
        for user in users:
            if user_id == user.pk or (email_hash and email_hash == hashes.get(user.pk)):
                submissions[user.pk].add(pk)
    return [
        {"user": user, "submissions": len(submissions[user.pk]), "uploads": uploads.get(user.pk, 0)}
        for user in users
    ]
