"""
The case-study digest: one mail listing the case studies published since the last one, to each
registered user who turned the `case_study_digest` preference on (accounts.selectors.users_with_preference)
and whose address is verified. A daily beat job makes it (content.tasks.case_study_digest_send).

One mail per user per digest, however often the job runs: a digest's case studies are fixed when it is
made, each mail is sent in the transaction that records its DigestDelivery (unique per digest and user),
and a run within DIGEST_MIN_INTERVAL of the last digest resumes that digest (the users it has not reached
yet) instead of making another.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.preferences import unsubscribe_token
from accounts.selectors import users_with_preference
from audit.services import audit_record
from common.locks import job_lock

from .models import CaseStudy, Digest, DigestDelivery

logger = logging.getLogger(__name__)

FLAG = "case_study_digest"


@dataclass
class DigestResult:
    digest: Digest | None
    case_studies: int = 0
    sent: int = 0
    failed: int = 0
    resumed: bool = False
    locked: bool = False


def digest_recipients(digest: Digest):
    """Who should get `digest` and has not: opted in, active, address verified, not anonymised."""
    return (
        users_with_preference(FLAG)
        .filter(email_verified_at__isnull=False, anonymized_at__isnull=True)
        .exclude(pk__in=DigestDelivery.objects.filter(digest=digest).values("user_id"))
        .order_by("pk")
    )


@transaction.atomic
def _digest_current(now) -> tuple[Digest, bool]:
    """The digest this run sends: the last one when it is recent, else a new one up to `now`."""
    last = Digest.objects.order_by("-window_end").first()
    if last is not None and now - last.window_end < settings.DIGEST_MIN_INTERVAL:
        return last, True
    start = last.window_end if last is not None else now - settings.DIGEST_FIRST_WINDOW
    digest = Digest.objects.create(window_start=start, window_end=now)
    # Published in the window and on the site now: a story published and taken down in between is not
    # news. published() decides visibility by the clock, as the site does.
    digest.case_studies.set(
        CaseStudy.objects.published(at=now).filter(published_at__gt=start, published_at__lte=now)
    )
    return digest, False


def _message(digest: Digest, case_studies: list[CaseStudy], user) -> EmailMessage:
    token = unsubscribe_token(user=user, flag=FLAG)
    one_click = settings.UNSUBSCRIBE_API_URL.format(token=token)
    body = render_to_string(
        "content/email/case_study_digest.txt",
        {
            "user": user,
            "count": len(case_studies),
            "case_studies": case_studies,
            "unsubscribe_url": settings.UNSUBSCRIBE_PAGE_URL.format(token=token),
        },
    )
    subject = (
        "A new IndiVillage case study"
        if len(case_studies) == 1
        else (f"{len(case_studies)} new IndiVillage case studies")
    )
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        # RFC 8058: mail clients show an unsubscribe button that POSTs here (accounts' UnsubscribeApi).
        headers={"List-Unsubscribe": f"<{one_click}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )


def _case_studies(digest: Digest) -> list[CaseStudy]:
    found = list(digest.case_studies.select_related("industry").order_by("-published_at", "title"))
    for case_study in found:
        case_study.url = settings.CASE_STUDY_URL.format(slug=case_study.slug)
    return found


def case_study_digest_send(*, now=None) -> DigestResult:
    """Makes (or resumes) the digest and mails it; a mail that fails is retried by the next run."""
    now = now or timezone.now()
    with job_lock("content.digest_send") as held:
        if not held:
            return DigestResult(digest=None, locked=True)
        digest, resumed = _digest_current(now)
        result = DigestResult(digest=digest, resumed=resumed)
        case_studies = _case_studies(digest)
        result.case_studies = len(case_studies)
        if case_studies:
            for user in digest_recipients(digest).iterator(chunk_size=500):
                try:
                    with transaction.atomic():
                        DigestDelivery.objects.create(digest=digest, user=user)
                        _message(digest, case_studies, user).send()
                    result.sent += 1
                except IntegrityError:
                    pass  # delivered by another run meanwhile
                except Exception as error:
                    result.failed += 1
                    # The class only: an SMTP error's text carries the recipient's address.
                    logger.error(
                        "case-study digest %s: the mail to user %s failed (%s)",
                        digest.pk,
                        user.pk,
                        type(error).__name__,
                    )
        with transaction.atomic():
            audit_record(
                action="content.digest_sent",
                entity=digest,
                changes={
                    "case_studies": result.case_studies,
                    "sent": result.sent,
                    "failed": result.failed,
                    "resumed": resumed,
                },
            )
    return result
