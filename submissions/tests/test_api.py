import datetime
import uuid
from unittest import mock

import kombu.exceptions
import pytest
import redis.exceptions
from django.conf import settings
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common import ratelimit
from common.crypto import email_blind_index
from content.tests.factories import ServiceFactory
from submissions.api import views
from submissions.models import FormSubmission, SubmissionStatus

pytestmark = pytest.mark.django_db

CONTACT_URL = "/api/v1/submissions/contact/"
DEMO_URL = "/api/v1/submissions/demo-request/"
QUOTE_URL = "/api/v1/submissions/quote-request/"
RECEIPT_FIELDS = {"id", "form_type", "status", "created_at"}


def contact(**overrides):
    return {
        "name": "Meena Krishnan",
        "email": "Meena.K@Example.in",
        "message": "We label 2M images a month; call 98450 11223.",
        **overrides,
    }


def demo(**overrides):
    return {
        "name": "Ravi Shankar",
        "email": "ravi@example.com",
        "company": "Blue Lotus AI",
        "preferred_date": (timezone.now() + datetime.timedelta(days=7)).date().isoformat(),
        "services": ["data-annotation"],
        **overrides,
    }


def quote(**overrides):
    return {
        "name": "Anita Rao",
        "email": "anita@example.com",
        "company": "Monsoon Mapping",
        "services": ["data-annotation", "data-collection"],
        "budget_range": "25k-100k",
        "timeline": "1-3 months",
        "data_volume": "30,000 drone images",
        **overrides,
    }


@pytest.fixture(autouse=True)
def _mid_window(monkeypatch):
    """The throttles count in fixed windows: a test must not straddle the end of one."""
    clock = mock.Mock(wraps=ratelimit.time)
    clock.time.return_value = 1_800_000_000.0 + 1800
    monkeypatch.setattr(ratelimit, "time", clock)


def _raw_data(pk) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data FROM submissions_formsubmission WHERE id = %s",
            [pk.hex if connection.vendor == "sqlite" else pk],
        )
        return bytes(cursor.fetchone()[0])


def _fields(response) -> dict:
    assert response.json()["error"]["code"] == "validation_error", response.json()
    return response.json()["error"]["fields"]


def _nothing_stored():
    return (
        not FormSubmission.objects.exists()
        and not AuditLog.objects.filter(action="submission.created").exists()
    )


# --- The three forms --------------------------------------------------------------------------------


def test_url_names():
    assert reverse("submission-contact") == CONTACT_URL
    assert reverse("submission-demo-request") == DEMO_URL
    assert reverse("submission-quote-request") == QUOTE_URL


def test_contact_is_stored_encrypted_mailed_to_sales_and_never_echoed(
    api_client, django_capture_on_commit_callbacks
):
    payload = contact()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(CONTACT_URL, payload, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == RECEIPT_FIELDS
    assert body["form_type"] == "contact"
    assert b"Meena" not in response.content and b"98450" not in response.content
    submission = FormSubmission.objects.get(pk=body["id"])
    assert body["status"] == SubmissionStatus.SUBMITTED  # the receipt says what was true on answering
    assert submission.status == SubmissionStatus.COMPLETED
    assert submission.user is None
    assert submission.data == payload
    assert submission.email_hash == email_blind_index("meena.k@example.in")
    raw = _raw_data(submission.pk)
    assert b"Meena" not in raw and b"98450" not in raw and b"example.in" not in raw.lower()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [settings.SALES_INBOX]
    assert "contact" in message.subject.lower()
    assert payload["message"] in message.body and payload["name"] in message.body
    audit = AuditLog.objects.get(action="submission.created")
    assert audit.entity_id == str(submission.pk)
    assert audit.changes == {"form_type": "contact"}


def test_demo_request_stores_slugs_and_an_iso_date(api_client, published_services):
    payload = demo(services=["data-collection", "data-annotation"], message="Thursday if possible.")
    response = api_client.post(DEMO_URL, payload, format="json")

    assert response.status_code == 201, response.content
    submission = FormSubmission.objects.get(pk=response.json()["id"])
    assert submission.form_type == "demo_request"
    assert submission.data == payload
    assert isinstance(submission.data["preferred_date"], str)
    assert {s.slug for s in submission.services.all()} == {"data-collection", "data-annotation"}


def test_quote_request_is_stored_with_its_choices(
    api_client, published_services, django_capture_on_commit_callbacks
):
    payload = quote(message="Lidar later.")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(QUOTE_URL, payload, format="json")

    assert response.status_code == 201, response.content
    submission = FormSubmission.objects.get(pk=response.json()["id"])
    assert (submission.form_type, submission.status) == ("quote_request", SubmissionStatus.COMPLETED)
    assert submission.data == payload
    assert submission.services.count() == 2
    assert "30,000 drone images" in mail.outbox[0].body and "25k-100k" in mail.outbox[0].body


def test_optional_message_defaults_to_empty(api_client, published_services):
    response = api_client.post(QUOTE_URL, quote(), format="json")
    assert response.status_code == 201
    assert FormSubmission.objects.get().data["message"] == ""


def test_logged_in_visitor_is_linked(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    response = api_client.post(CONTACT_URL, contact(), format="json")
    assert response.status_code == 201
    assert FormSubmission.objects.get(pk=response.json()["id"]).user == user
    assert AuditLog.objects.get(action="submission.created").actor_id == user.pk


def test_unknown_fields_are_ignored(api_client):
    response = api_client.post(CONTACT_URL, contact(status="completed", is_admin=True), format="json")
    assert response.status_code == 201
    submission = FormSubmission.objects.get()
    assert submission.status == SubmissionStatus.SUBMITTED  # never taken from the input
    assert "is_admin" not in submission.data and "status" not in submission.data


def test_only_post_is_allowed(api_client):
    assert api_client.get(CONTACT_URL).status_code == 405


# --- Bad input: a 4xx naming the field, nothing written ----------------------------------------------


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        (CONTACT_URL, contact(email="not-an-email"), "email"),
        (CONTACT_URL, contact(name=""), "name"),
        (CONTACT_URL, contact(name="x" * 201), "name"),
        (CONTACT_URL, contact(message="x" * 5001), "message"),
        (CONTACT_URL, {"name": "A", "email": "a@example.com"}, "message"),
        (CONTACT_URL, contact(website="x" * 3000), "website"),
        (DEMO_URL, demo(preferred_date="next tuesday"), "preferred_date"),
        (DEMO_URL, demo(company="x" * 201), "company"),
        (DEMO_URL, demo(services="data-annotation"), "services"),
        (DEMO_URL, demo(services=["x" * 141]), "services"),
        (DEMO_URL, demo(services=[f"s-{n}" for n in range(21)]), "services"),
        (QUOTE_URL, quote(services=[]), "services"),
        (QUOTE_URL, quote(budget_range="a lot"), "budget_range"),
        (QUOTE_URL, quote(timeline="tomorrow"), "timeline"),
        (QUOTE_URL, quote(data_volume="x" * 501), "data_volume"),
        (QUOTE_URL, {k: v for k, v in quote().items() if k != "data_volume"}, "data_volume"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_client, published_services, url, payload, field):
    response = api_client.post(url, payload, format="json")
    assert response.status_code == 400
    assert field in _fields(response)
    assert _nothing_stored()


@pytest.mark.parametrize("days_ago", [2, 30])
def test_demo_date_in_the_past_is_refused(api_client, published_services, days_ago):
    past = (timezone.now() - datetime.timedelta(days=days_ago)).date().isoformat()
    response = api_client.post(DEMO_URL, demo(preferred_date=past), format="json")
    assert response.status_code == 400
    assert "past" in _fields(response)["preferred_date"][0]
    assert _nothing_stored()


def test_demo_date_today_is_accepted(api_client, published_services):
    today = timezone.now().date().isoformat()
    response = api_client.post(DEMO_URL, demo(preferred_date=today), format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("kind", ["unknown", "draft", "scheduled", "deleted"])
def test_services_must_be_live_and_published(api_client, published_services, kind):
    if kind == "draft":
        ServiceFactory(slug="hidden", status="draft", published_at=None)
    elif kind == "scheduled":
        ServiceFactory(slug="hidden", published_at=timezone.now() + datetime.timedelta(days=3))
    elif kind == "deleted":
        ServiceFactory(slug="hidden", deleted_at=timezone.now())
    for url, payload in (
        (DEMO_URL, demo(services=["data-annotation", "hidden"])),
        (QUOTE_URL, quote(services=["hidden"])),
    ):
        response = api_client.post(url, payload, format="json")
        assert response.status_code == 400
        assert "'hidden'" in _fields(response)["services"][0]
    assert _nothing_stored()


def test_repeated_slugs_count_once(api_client, published_services):
    response = api_client.post(DEMO_URL, demo(services=["data-annotation", "data-annotation"]), format="json")
    assert response.status_code == 201
    submission = FormSubmission.objects.get()
    assert submission.data["services"] == ["data-annotation"]
    assert submission.services.count() == 1


@pytest.mark.parametrize("body", ['["a list"]', '"text"', "{not json", "null"])
def test_malformed_bodies_are_a_400_not_a_500(api_client, body):
    response = api_client.post(CONTACT_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()
    assert _nothing_stored()


# --- Honeypot -----------------------------------------------------------------------------------------


def test_honeypot_answers_like_a_success_but_stores_and_sends_nothing(
    api_client, django_capture_on_commit_callbacks
):
    real = api_client.post(CONTACT_URL, contact(email="person@example.com"), format="json")
    audit_rows = AuditLog.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_client.post(CONTACT_URL, contact(website="http://spam.example"), format="json")

    assert response.status_code == real.status_code == 201
    body = response.json()
    assert set(body) == set(real.json()) == RECEIPT_FIELDS
    assert body["form_type"] == "contact" and body["status"] == "submitted"
    assert uuid.UUID(body["id"]).version == 7 and body["id"] != real.json()["id"]
    assert "Idempotent-Replayed" not in response
    assert list(FormSubmission.objects.values_list("id", flat=True)) == [uuid.UUID(real.json()["id"])]
    assert AuditLog.objects.count() == audit_rows
    assert callbacks == []
    assert mail.outbox == []


def test_honeypot_with_invalid_input_is_a_400_like_for_anyone(api_client):
    response = api_client.post(
        CONTACT_URL, contact(website="http://spam.example", email="nope"), format="json"
    )
    assert response.status_code == 400
    assert "email" in _fields(response)


# --- Idempotency-Key ------------------------------------------------------------------------------------


def test_the_same_key_replays_the_first_submission(api_client, django_capture_on_commit_callbacks):
    key = str(uuid.uuid4())
    with django_capture_on_commit_callbacks(execute=True):
        first = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 201 and "Idempotent-Replayed" not in first
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert {k: v for k, v in again.json().items() if k != "status"} == {
        k: v for k, v in first.json().items() if k != "status"
    }
    assert again.json()["status"] == SubmissionStatus.COMPLETED  # the row as it is now
    assert FormSubmission.objects.count() == 1
    assert FormSubmission.objects.get().data["message"] == contact()["message"]
    assert callbacks == [] and len(mail.outbox) == 1


def test_a_replay_is_answered_even_if_the_input_is_no_longer_valid(api_client, published_services):
    key = "retry-1"
    first = api_client.post(DEMO_URL, demo(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    published_services[0].delete()  # soft delete: the service is gone from the site
    again = api_client.post(DEMO_URL, demo(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]


def test_the_same_key_on_another_form_is_another_submission(api_client, published_services):
    first = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    second = api_client.post(DEMO_URL, demo(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, second.status_code) == (201, 201)
    assert FormSubmission.objects.count() == 2


def test_a_request_that_loses_the_race_gets_the_winner(api_client):
    """The view's check misses; the service's INSERT meets the row committed meanwhile."""
    from submissions import selectors

    winner = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY="raced")
    real = selectors.submission_get_by_idempotency_key
    lookups = []

    def checks_miss(**kwargs):
        lookups.append(kwargs)
        # The view's and the service's checks run before the other request commits.
        return None if len(lookups) <= 2 else real(**kwargs)

    with mock.patch.object(selectors, "submission_get_by_idempotency_key", side_effect=checks_miss):
        loser = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY="raced")
    assert len(lookups) == 3
    assert loser.status_code == 200
    assert loser["Idempotent-Replayed"] == "true"
    assert loser.json()["id"] == winner.json()["id"]
    assert FormSubmission.objects.count() == 1


@pytest.mark.parametrize("key", ["x" * 129, "has space", "", "tab\there"])
def test_a_bad_idempotency_key_is_a_400(api_client, key):
    response = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in _fields(response)
    assert _nothing_stored()


def test_a_128_character_key_is_accepted(api_client):
    response = api_client.post(CONTACT_URL, contact(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 128)
    assert response.status_code == 201
    assert FormSubmission.objects.get().idempotency_key == "k" * 128


# --- Throttles ------------------------------------------------------------------------------------------


def _post(api_client, n, **extra):
    return api_client.post(CONTACT_URL, contact(email=f"visitor{n}@example.com"), format="json", **extra)


def _assert_throttled(response):
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= settings.LEAD_FORM_WINDOW + 1


def test_per_ip_throttle(api_client, settings, published_services):
    settings.LEAD_FORM_LIMIT_PER_IP = 2
    settings.LEAD_FORM_LIMIT_PER_EMAIL = 100
    assert _post(api_client, 1).status_code == 201
    # Shared by the three forms.
    assert api_client.post(DEMO_URL, demo(), format="json").status_code == 201
    _assert_throttled(_post(api_client, 3))
    assert FormSubmission.objects.count() == 2
    # Another address is not affected.
    assert _post(api_client, 4, REMOTE_ADDR="198.51.100.7").status_code == 201


def test_a_forged_forwarded_for_gets_no_new_allowance(api_client, settings):
    settings.TRUSTED_PROXIES = []
    settings.LEAD_FORM_LIMIT_PER_IP = 2
    settings.LEAD_FORM_LIMIT_PER_EMAIL = 100
    for n in range(2):
        assert _post(api_client, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 201
    _assert_throttled(_post(api_client, 9, HTTP_X_FORWARDED_FOR="203.0.113.99"))
    assert FormSubmission.objects.count() == 2


def test_behind_a_trusted_proxy_each_client_has_its_own_allowance(api_client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LEAD_FORM_LIMIT_PER_IP = 2
    settings.LEAD_FORM_LIMIT_PER_EMAIL = 100
    for n in range(4):  # four clients behind the one proxy
        assert _post(api_client, n, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 201
    client = {"HTTP_X_FORWARDED_FOR": "203.0.113.50"}
    assert _post(api_client, 10, **client).status_code == 201
    assert _post(api_client, 11, **client).status_code == 201
    _assert_throttled(_post(api_client, 12, **client))
    # What the client prepends is ignored: the proxy appended the real address last.
    _assert_throttled(_post(api_client, 13, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.50"))
    assert FormSubmission.objects.count() == 6


def test_per_email_throttle_counts_one_address_however_it_is_typed(api_client, settings):
    settings.LEAD_FORM_LIMIT_PER_IP = 100
    settings.LEAD_FORM_LIMIT_PER_EMAIL = 2
    keys = []
    real_hit = ratelimit.hit

    def recording_hit(key, **kwargs):
        keys.append(key)
        return real_hit(key, **kwargs)

    spellings = ["Sam@Example.com", "sam@example.com", " SAM@EXAMPLE.COM "]
    with mock.patch.object(views, "hit", side_effect=recording_hit):
        for n, email in enumerate(spellings[:2]):
            response = api_client.post(
                CONTACT_URL, contact(email=email), format="json", REMOTE_ADDR=f"198.51.100.{n}"
            )
            assert response.status_code == 201
        _assert_throttled(
            api_client.post(
                CONTACT_URL, contact(email=spellings[2]), format="json", REMOTE_ADDR="198.51.100.9"
            )
        )
        assert _post(api_client, 1, REMOTE_ADDR="198.51.100.10").status_code == 201

    assert FormSubmission.objects.count() == 3
    # The counter is keyed on the blind index, never on the address itself.
    assert any(email_blind_index("sam@example.com") in key for key in keys)
    assert not any("sam" in key.lower() or "@" in key for key in keys)


def test_throttled_honeypot_is_throttled_too(api_client, settings):
    settings.LEAD_FORM_LIMIT_PER_IP = 1
    assert api_client.post(CONTACT_URL, contact(website="spam"), format="json").status_code == 201
    _assert_throttled(api_client.post(CONTACT_URL, contact(website="spam"), format="json"))


def test_invalid_input_and_replays_do_not_use_up_the_allowance(api_client, settings):
    settings.LEAD_FORM_LIMIT_PER_IP = 1
    for _ in range(3):
        assert api_client.post(CONTACT_URL, contact(email="bad"), format="json").status_code == 400
    assert _post(api_client, 1, HTTP_IDEMPOTENCY_KEY="once").status_code == 201
    assert _post(api_client, 1, HTTP_IDEMPOTENCY_KEY="once").status_code == 200
    _assert_throttled(_post(api_client, 2))


# --- When the broker or the cache is down ---------------------------------------------------------------


@pytest.mark.parametrize("method", ["delay", "apply_async"])
@pytest.mark.parametrize(
    "error",
    [
        kombu.exceptions.OperationalError("[Errno 111] Connection refused"),
        redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379."),
        ConnectionRefusedError(111, "Connection refused"),
    ],
)
def test_with_the_broker_down_the_form_is_still_stored(
    api_client, django_capture_on_commit_callbacks, method, error
):
    from submissions.tasks import submission_process as task

    with (
        mock.patch.object(task, method, side_effect=error) as queue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(CONTACT_URL, contact(), format="json")

    assert response.status_code == 201
    queue.assert_called_once()
    submission = FormSubmission.objects.get(pk=response.json()["id"])
    assert submission.status == SubmissionStatus.SUBMITTED
    assert submission.data == contact()
    assert mail.outbox == []


def test_an_unexpected_error_queueing_the_task_still_answers_201(
    api_client, django_capture_on_commit_callbacks, caplog
):
    # The on_commit hook is robust: Django logs what it raised, naming the hook by its __qualname__,
    # which a functools.partial does not have (that AttributeError used to escape as a 500).
    from submissions.tasks import submission_process as task

    with (
        mock.patch.object(task, "delay", side_effect=RuntimeError("serializer exploded")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_client.post(CONTACT_URL, contact(), format="json")

    assert response.status_code == 201
    assert FormSubmission.objects.get(pk=response.json()["id"]).data == contact()
    assert "serializer exploded" in caplog.text


@pytest.fixture
def unreachable_cache(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.05,
                "SOCKET_TIMEOUT": 0.05,
            },
        }
    }
    from django.core.cache import cache

    assert cache.set("probe", 1) is None and cache.get("probe") is None  # really unreachable


def test_with_the_cache_unreachable_forms_are_still_stored(
    api_client, settings, unreachable_cache, published_services, django_capture_on_commit_callbacks
):
    settings.LEAD_FORM_LIMIT_PER_IP = 1
    settings.LEAD_FORM_LIMIT_PER_EMAIL = 1
    with django_capture_on_commit_callbacks(execute=True):
        responses = [
            api_client.post(CONTACT_URL, contact(), format="json"),
            api_client.post(DEMO_URL, demo(), format="json"),
            api_client.post(QUOTE_URL, quote(), format="json"),
        ]
    # The throttles fail open: a lead is worth more than a perfect count.
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert FormSubmission.objects.filter(status=SubmissionStatus.COMPLETED).count() == 3
    assert len(mail.outbox) == 3


def test_with_the_database_unreachable_the_visitor_is_told_to_retry(api_client):
    from django.db import OperationalError

    with mock.patch.object(views, "submission_create", side_effect=OperationalError("gone")):
        response = api_client.post(CONTACT_URL, contact(), format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


def test_a_stale_token_does_not_cost_a_lead(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    response = api_client.post(
        "/api/v1/submissions/contact/",
        {"name": "Ravi", "email": "ravi@example.com", "message": "Hello"},
        format="json",
    )
    assert response.status_code == 201
    stored = FormSubmission.objects.get(pk=response.json()["id"])
    assert stored.user is None and stored.data["name"] == "Ravi"


def test_a_valid_token_links_the_lead_to_its_user(api_client):
    from knox.models import AuthToken

    from accounts.tests.factories import UserFactory

    user = UserFactory()
    _, token = AuthToken.objects.create(user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.post(
        "/api/v1/submissions/contact/",
        {"name": "Ravi", "email": "ravi@example.com", "message": "Hello"},
        format="json",
    )
    assert response.status_code == 201
    assert FormSubmission.objects.get(pk=response.json()["id"]).user == user
