from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, User
from audit.models import AuditLog
from content.models import CaseStudy, CaseStudyResult, Industry, Service, ServiceFeature
from impact.models import ImpactMetric, ImpactStory, Location
from submissions.models import FormSubmission

pytestmark = pytest.mark.django_db

MODELS = [
    User,
    Service,
    ServiceFeature,
    Industry,
    CaseStudy,
    CaseStudyResult,
    Location,
    ImpactStory,
    ImpactMetric,
    FormSubmission,
    AuditLog,
]


def _counts():
    return {model.__name__: model._default_manager.count() for model in MODELS}


def _run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_bootstrap_creates_admin_and_core_services_once(settings):
    settings.FIRST_ADMIN_EMAIL = "Root@IndiVillage.com"
    settings.FIRST_ADMIN_PASSWORD = "a-long-and-unusual-passphrase"
    first = _run("bootstrap")
    assert "created" in first and "4 created" in first
    admin = User.objects.get(email="root@indivillage.com")
    assert (
        admin.role == Role.ADMIN
        and admin.is_superuser
        and admin.check_password("a-long-and-unusual-passphrase")
    )
    assert set(Service.objects.published().values_list("slug", flat=True)) == {
        "data-collection",
        "data-preparation",
        "ai-model-development",
        "human-in-the-loop",
    }
    before = _counts()
    second = _run("bootstrap")
    assert "exists, unchanged" in second and "0 created, 4 existing" in second
    assert _counts() == before


def test_bootstrap_generates_and_prints_a_password_once_in_local_mode(settings):
    settings.FIRST_ADMIN_EMAIL = ""
    settings.FIRST_ADMIN_PASSWORD = ""
    output = _run("bootstrap")
    password = output.split("shown this once): ")[1].split()[0]
    assert User.objects.get(email="admin@indivillage.local").check_password(password)
    assert "shown this once" not in _run("bootstrap")


def test_bootstrap_in_production_needs_the_admin_settings(settings):
    settings.ENVIRONMENT = "production"
    settings.FIRST_ADMIN_EMAIL = ""
    with pytest.raises(CommandError, match="FIRST_ADMIN_EMAIL"):
        _run("bootstrap")
    settings.FIRST_ADMIN_EMAIL = "ops@indivillage.com"
    settings.FIRST_ADMIN_PASSWORD = ""
    with pytest.raises(CommandError, match="FIRST_ADMIN_PASSWORD"):
        _run("bootstrap")
    assert not User.objects.exists() and not Service.objects.exists()


def test_bootstrap_refuses_a_weak_password_and_writes_nothing(settings):
    settings.FIRST_ADMIN_EMAIL = "ops@indivillage.com"
    settings.FIRST_ADMIN_PASSWORD = "123"
    with pytest.raises(CommandError, match="too weak"):
        _run("bootstrap")
    assert not User.objects.exists() and not Service.objects.exists()


def test_seed_demo_loads_the_demo_content_once():
    _run("bootstrap")
    output = _run("seed_demo")
    assert "Demo content loaded." in output
    assert set(Industry.objects.values_list("name", flat=True)) == {
        "Technology",
        "Healthcare",
        "Retail",
        "Finance",
        "Manufacturing",
    }
    assert set(Location.objects.values_list("name", "region")) == {
        ("Ramanagara", "Karnataka"),
        ("Yemmiganur", "Andhra Pradesh"),
    }
    assert User.objects.filter(role=Role.USER).count() == 5
    case_studies = CaseStudy.objects.published()
    assert case_studies.count() == 5
    assert all(cs.results.exists() and cs.services.exists() for cs in case_studies)
    stories = ImpactStory.objects.published()
    assert stories.count() == 3
    assert all(m.period_end > m.period_start for m in ImpactMetric.objects.all())
    assert FormSubmission.objects.count() == 3
    assert FormSubmission.objects.filter(form_type="quote_request").get().data["company"] == "FinSight"

    before = _counts()
    assert "nothing created" in _run("seed_demo")
    assert _counts() == before


def test_seed_demo_scale_multiplies_rows_and_stays_idempotent():
    _run("bootstrap")
    _run("seed_demo", scale=3)
    assert CaseStudy.objects.count() == 15
    assert ImpactStory.objects.count() == 9
    assert FormSubmission.objects.count() == 9
    assert User.objects.filter(role=Role.USER).count() == 15
    before = _counts()
    _run("seed_demo", scale=3)
    assert _counts() == before
    # A larger scale adds only the missing copies.
    _run("seed_demo", scale=4)
    assert CaseStudy.objects.count() == 20


def test_seed_demo_metrics_summarise_as_rates_and_multipliers_not_sums(api_client):
    _run("bootstrap")
    _run("seed_demo", scale=3)

    results = api_client.get("/api/v1/impact-metrics/summary/").json()["results"]
    figures = {r["metric_name"]: (r["unit"], r.get("aggregation"), r["total"], r["count"]) for r in results}

    # Three copies of two financial years: rates and multipliers are averaged, counts added up.
    assert figures["Women employed"] == ("%", "average", "54.90", 6)  # (48.8 + 61) / 2, not 329.40
    assert figures["Income uplift"] == ("x", "average", "2.16", 6)  # (1.92 + 2.4) / 2, not 12.96
    assert figures["Jobs created"] == ("people", "sum", str(3 * (336 + 420 + 248 + 310)) + ".00", 12)


def test_seed_demo_refuses_production_unless_forced(settings):
    _run("bootstrap")
    settings.ENVIRONMENT = "production"
    with pytest.raises(CommandError, match="production"):
        _run("seed_demo")
    assert not CaseStudy.objects.exists()
    _run("seed_demo", force=True)
    assert CaseStudy.objects.count() == 5


def test_seed_demo_needs_bootstrap_first_and_a_positive_scale():
    with pytest.raises(CommandError, match="bootstrap"):
        _run("seed_demo")
    with pytest.raises(CommandError, match="--scale"):
        _run("seed_demo", scale=0)
    assert not Industry.objects.exists()


def test_seed_demo_retires_the_public_cache(api_client, django_capture_on_commit_callbacks):
    _run("bootstrap")
    before = api_client.get("/api/v1/case-studies/")
    assert before.json()["count"] == 0
    with django_capture_on_commit_callbacks(execute=True):
        _run("seed_demo")
    after = api_client.get("/api/v1/case-studies/", HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["count"] == 5 and after["ETag"] != before["ETag"]


def test_seed_demo_goes_through_each_apps_bulk_path_with_one_audit_row_per_batch():
    _run("bootstrap")
    _run("seed_demo", scale=2)
    batches = sorted(
        (row.action, row.entity_type, row.changes["rows"])
        for row in AuditLog.objects.filter(action__endswith=".bulk_created")
    )
    # Reference rows once; then per copy one batch of users, case studies, stories and forms.
    assert batches == sorted(
        [
            ("content.bulk_created", "content.industry", 5),
            ("content.bulk_created", "impact.location", 2),
            *[("user.bulk_created", "accounts.user", 5)] * 2,
            *[("content.bulk_created", "content.casestudy", 5)] * 2,
            *[("content.bulk_created", "impact.impactstory", 3)] * 2,
            *[("submission.bulk_created", "submissions.formsubmission", 3)] * 2,
        ]
    )
    assert all(
        row.changes["via"] == "seed_demo" for row in AuditLog.objects.filter(action__endswith=".bulk_created")
    )
