import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Role, User
from accounts.selectors import user_by_email
from accounts.services import user_create
from common.caching import content_version_bump
from common.crypto import email_blind_index
from common.models import PublishStatus
from content.models import CaseStudy, CaseStudyResult, Industry, Service
from content.services import service_create
from impact.models import ImpactMetric, ImpactStory, Location
from submissions.models import FormSubmission

from . import demo


class SetupError(Exception):
    """A set-up command cannot go on; the message says what the operator must do."""


@dataclass
class BootstrapResult:
    admin_email: str
    admin_created: bool
    generated_password: str | None
    services_created: list[str] = field(default_factory=list)
    services_existing: list[str] = field(default_factory=list)


@transaction.atomic
def bootstrap_run(*, admin_email: str = "", admin_password: str = "") -> BootstrapResult:
    """
    The first admin and the core services. Idempotent: an existing admin keeps its password, and a core
    service that exists (even in the trash, where an editor put it on purpose) is left alone.
    """
    local = settings.ENVIRONMENT in {"local", "test"}
    admin_email = admin_email or settings.FIRST_ADMIN_EMAIL or ("admin@indivillage.local" if local else "")
    if not admin_email:
        raise SetupError("Set FIRST_ADMIN_EMAIL (and FIRST_ADMIN_PASSWORD) to create the first admin.")

    generated = None
    existing = user_by_email(email=admin_email)
    if existing is None:
        password = admin_password or settings.FIRST_ADMIN_PASSWORD
        if not password:
            if not local:
                raise SetupError("Set FIRST_ADMIN_PASSWORD: production never generates a password.")
            password = generated = secrets.token_urlsafe(12)
        try:
            validate_password(password, User(email=admin_email))
        except ValidationError as error:
            raise SetupError("FIRST_ADMIN_PASSWORD is too weak: " + " ".join(error.messages)) from error
        try:
            user_create(email=admin_email, password=password, name="Administrator", role=Role.ADMIN)
        except ValidationError as error:
            raise SetupError(f"Cannot create the admin {admin_email}: {error}") from error
    elif existing.role != Role.ADMIN:
        raise SetupError(f"{admin_email} exists but is not an admin; change its role in the admin first.")

    result = BootstrapResult(
        admin_email=admin_email, admin_created=existing is None, generated_password=generated
    )
    present = set(
        Service.all_objects.filter(slug__in=[s["slug"] for s in demo.CORE_SERVICES]).values_list(
            "slug", flat=True
        )
    )
    for order, spec in enumerate(demo.CORE_SERVICES):
        if spec["slug"] in present:
            result.services_existing.append(spec["name"])
            continue
        service_create(
            name=spec["name"],
            slug=spec["slug"],
            description=spec["description"],
            icon=spec["icon"],
            order=order,
            features=spec["features"],
            publish=True,
        )
        result.services_created.append(spec["name"])
    return result


@dataclass
class SeedResult:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        self.created[name] = self.created.get(name, 0) + count


def _suffix(copy: int) -> str:
    return "" if copy == 0 else f"-{copy + 1}"


def _email(email: str, copy: int) -> str:
    local, domain = email.split("@")
    return email if copy == 0 else f"{local}+{copy + 1}@{domain}"


def seed_demo_run(*, scale: int = 1, progress=None, batch_size: int = 500) -> SeedResult:
    """
    Demo content: users, industries, locations, case studies with results and services, impact stories
    with metrics, form submissions. `scale` makes that many copies of the people, case studies, stories
    and submissions. Rows go in with bulk inserts, one copy per transaction; a copy whose rows exist
    already is skipped, so a second run adds nothing. Demo users get no usable password.
    """
    if scale < 1:
        raise SetupError("--scale must be 1 or more.")
    result = SeedResult()
    now = timezone.now()
    services = {s.slug: s for s in Service.all_objects.all()}
    missing = [s["slug"] for s in demo.CORE_SERVICES if s["slug"] not in services]
    if missing:
        raise SetupError(f"Core services missing ({', '.join(missing)}): run `manage.py bootstrap` first.")

    with transaction.atomic():
        industries = {}
        for name in demo.INDUSTRIES:
            industries[name], created = Industry.objects.get_or_create(
                slug=slugify(name), defaults={"name": name}
            )
            result.add("industries", int(created))
        locations = {}
        for spec in demo.LOCATIONS:
            locations[spec["name"]], created = Location.objects.get_or_create(**spec)
            result.add("locations", int(created))

    existing_emails = set(User.objects.values_list("email", flat=True))
    existing_case_studies = set(CaseStudy.all_objects.values_list("slug", flat=True))
    existing_stories = set(ImpactStory.all_objects.values_list("slug", flat=True))
    existing_keys = set(
        FormSubmission.objects.filter(idempotency_key__startswith="seed-").values_list(
            "idempotency_key", flat=True
        )
    )
    unusable = User(email="x@invalid")
    unusable.set_unusable_password()

    for copy in range(scale):
        suffix = _suffix(copy)
        with transaction.atomic():
            users = [
                User(
                    email=_email(spec["email"], copy),
                    name=spec["name"],
                    company=spec["company"],
                    country=spec["country"],
                    phone=f"+91 80 4000 {copy % 10000:04d}",
                    password=unusable.password,
                )
                for spec in demo.USERS
                if _email(spec["email"], copy) not in existing_emails
            ]
            User.objects.bulk_create(users, batch_size=batch_size)
            result.add("users", len(users))

            case_studies, results, links = [], [], []
            for index, spec in enumerate(demo.CASE_STUDIES):
                slug = spec["slug"] + suffix
                if slug in existing_case_studies:
                    continue
                case_study = CaseStudy(
                    slug=slug,
                    title=spec["title"] + (f" ({copy + 1})" if copy else ""),
                    client=spec["client"],
                    challenge=spec["challenge"],
                    solution=spec["solution"],
                    industry=industries[spec["industry"]],
                    status=PublishStatus.PUBLISHED,
                    published_at=now - timedelta(days=30 * index + copy),
                )
                case_studies.append(case_study)
                results += [
                    CaseStudyResult(case_study=case_study, metric=metric, value=value)
                    for metric, value in spec["results"]
                ]
                links += [
                    CaseStudy.services.through(casestudy_id=case_study.pk, service_id=services[s].pk)
                    for s in spec["services"]
                ]
            CaseStudy.objects.bulk_create(case_studies, batch_size=batch_size)
            CaseStudyResult.objects.bulk_create(results, batch_size=batch_size)
            CaseStudy.services.through.objects.bulk_create(links, batch_size=batch_size)
            result.add("case studies", len(case_studies))
            result.add("case study results", len(results))

            stories, metrics = [], []
            for index, spec in enumerate(demo.IMPACT_STORIES):
                slug = spec["slug"] + suffix
                if slug in existing_stories:
                    continue
                story = ImpactStory(
                    slug=slug,
                    title=spec["title"] + (f" ({copy + 1})" if copy else ""),
                    story=spec["story"],
                    beneficiaries=spec["beneficiaries"],
                    location=locations[spec["location"]],
                    status=PublishStatus.PUBLISHED,
                    published_at=now - timedelta(days=45 * index + copy),
                )
                stories.append(story)
                metrics += [
                    ImpactMetric(
                        story=story,
                        metric_name=name,
                        value=value,
                        unit=unit,
                        aggregation=aggregation,
                        period_start=start,
                        period_end=end,
                    )
                    for name, value, unit, aggregation, start, end in demo.metric_rows(spec["metrics"])
                ]
            ImpactStory.objects.bulk_create(stories, batch_size=batch_size)
            ImpactMetric.objects.bulk_create(metrics, batch_size=batch_size)
            result.add("impact stories", len(stories))
            result.add("impact metrics", len(metrics))

            submissions, submission_links = [], []
            for index, spec in enumerate(demo.SUBMISSIONS):
                key = f"seed-{copy}-{index}"
                if key in existing_keys:
                    continue
                email = _email(spec["email"], copy)
                submission = FormSubmission(
                    form_type=spec["form_type"],
                    data={**spec["data"], "email": email},
                    email_hash=email_blind_index(email),
                    idempotency_key=key,
                )
                submissions.append(submission)
                submission_links += [
                    FormSubmission.services.through(
                        formsubmission_id=submission.pk, service_id=services[s].pk
                    )
                    for s in spec["services"]
                ]
            FormSubmission.objects.bulk_create(submissions, batch_size=batch_size)
            FormSubmission.services.through.objects.bulk_create(submission_links, batch_size=batch_size)
            result.add("form submissions", len(submissions))
        if progress:
            progress.advance()

    if any(result.created.values()):
        transaction.on_commit(content_version_bump)
    return result
