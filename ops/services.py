import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from accounts.selectors import user_by_email
from accounts.services import user_create, users_bulk_create
from common.models import PublishStatus
from common.richtext import paragraphs
from content.models import CaseStudy, Service
from content.services import case_studies_bulk_create, industries_ensure, service_create
from impact.models import ImpactStory
from impact.services import impact_stories_bulk_create, locations_ensure
from submissions.models import FormSubmission
from submissions.services import submissions_bulk_create

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
    and submissions, one copy per transaction, through each app's bulk path. A copy whose rows exist
    already is skipped, so a second run adds nothing. Demo users get no usable password.
    """
    if scale < 1:
        raise SetupError("--scale must be 1 or more.")
    result = SeedResult()
    services = {s.slug: s for s in Service.all_objects.all()}
    missing = [s["slug"] for s in demo.CORE_SERVICES if s["slug"] not in services]
    if missing:
        raise SetupError(f"Core services missing ({', '.join(missing)}): run `manage.py bootstrap` first.")

    industries, created = industries_ensure(names=demo.INDUSTRIES, via=SEED)
    result.add("industries", created)
    locations, created = locations_ensure(locations=demo.LOCATIONS, via=SEED)
    result.add("locations", created)
    existing = _SeedExisting.read()
    for copy in range(scale):
        with transaction.atomic():
            _seed_copy(copy, result, existing, services, industries, locations, batch_size)
        if progress:
            progress.advance()
    return result


SEED = "seed_demo"


@dataclass
class _SeedExisting:
    """What earlier runs seeded, by natural key: their copies are skipped."""

    emails: set
    case_studies: set
    stories: set
    submission_keys: set

    @classmethod
    def read(cls):
        return cls(
            emails=set(User.objects.values_list("email", flat=True)),
            case_studies=set(CaseStudy.all_objects.values_list("slug", flat=True)),
            stories=set(ImpactStory.all_objects.values_list("slug", flat=True)),
            submission_keys=set(
                FormSubmission.objects.filter(idempotency_key__startswith="seed-").values_list(
                    "idempotency_key", flat=True
                )
            ),
        )


def _seed_copy(copy, result, existing, services, industries, locations, batch_size) -> None:
    suffix, now = _suffix(copy), timezone.now()
    users = [
        {**spec, "email": _email(spec["email"], copy), "phone": f"+91 80 4000 {copy % 10000:04d}"}
        for spec in demo.USERS
        if _email(spec["email"], copy) not in existing.emails
    ]
    result.add("users", len(users_bulk_create(users=users, via=SEED, batch_size=batch_size)))
    case_studies = [
        {
            "slug": spec["slug"] + suffix,
            "title": spec["title"] + (f" ({copy + 1})" if copy else ""),
            "client": spec["client"],
            "challenge": paragraphs(spec["challenge"]),
            "solution": paragraphs(spec["solution"]),
            "industry": industries[spec["industry"]],
            "status": PublishStatus.PUBLISHED,
            "published_at": now - timedelta(days=30 * index + copy),
            "results": spec["results"],
            "services": [services[slug] for slug in spec["services"]],
        }
        for index, spec in enumerate(demo.CASE_STUDIES)
        if spec["slug"] + suffix not in existing.case_studies
    ]
    for name, count in case_studies_bulk_create(
        case_studies=case_studies, via=SEED, batch_size=batch_size
    ).items():
        result.add(name, count)
    stories = [
        {
            "slug": spec["slug"] + suffix,
            "title": spec["title"] + (f" ({copy + 1})" if copy else ""),
            "story": paragraphs(spec["story"]),
            "beneficiaries": spec["beneficiaries"],
            "location": locations[spec["location"]],
            "status": PublishStatus.PUBLISHED,
            "published_at": now - timedelta(days=45 * index + copy),
            "metrics": [
                dict(zip(METRIC_FIELDS, row, strict=True)) for row in demo.metric_rows(spec["metrics"])
            ],
        }
        for index, spec in enumerate(demo.IMPACT_STORIES)
        if spec["slug"] + suffix not in existing.stories
    ]
    for name, count in impact_stories_bulk_create(stories=stories, via=SEED, batch_size=batch_size).items():
        result.add(name, count)
    submissions = [
        {
            "form_type": spec["form_type"],
            "data": {**spec["data"], "email": _email(spec["email"], copy)},
            "idempotency_key": f"seed-{copy}-{index}",
            "services": [services[slug] for slug in spec["services"]],
        }
        for index, spec in enumerate(demo.SUBMISSIONS)
        if f"seed-{copy}-{index}" not in existing.submission_keys
    ]
    result.add(
        "form submissions", submissions_bulk_create(submissions=submissions, via=SEED, batch_size=batch_size)
    )


METRIC_FIELDS = ("metric_name", "value", "unit", "aggregation", "period_start", "period_end")
