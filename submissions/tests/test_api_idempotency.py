"""
Idempotency-Key, scoped per client (the token's user, else the client address) and bound to the body:
the same request again replays its receipt, a reused key with another body is a 422, and another
client's key is none of this client's business.
"""

import json
import threading
import uuid

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.tests.factories import UserFactory
from common.ratelimit import peek
from submissions import services
from submissions.models import FormSubmission

from .test_api import CONTACT_URL, DEMO_URL, contact, demo

pytestmark = pytest.mark.django_db


def _post(client, body, *, key, url=CONTACT_URL, ip="203.0.113.7"):
    return client.generic(
        "POST",
        url,
        body if isinstance(body, str) else json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        REMOTE_ADDR=ip,
    )


def test_the_same_body_again_replays_even_with_keys_in_another_order(api_client):
    key = str(uuid.uuid4())
    first = _post(api_client, contact(), key=key)
    reordered = json.dumps(dict(reversed(list(contact().items()))))
    again = _post(api_client, reordered, key=key)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert FormSubmission.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422(api_client):
    key = str(uuid.uuid4())
    first = _post(api_client, contact(), key=key)
    again = _post(api_client, contact(message="changed my mind"), key=key)
    assert first.status_code == 201
    assert again.status_code == 422, again.content
    error = again.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in error["message"]
    assert "Idempotent-Replayed" not in again
    assert first.json()["id"] not in again.content.decode()
    assert FormSubmission.objects.count() == 1
    assert FormSubmission.objects.get().data["message"] == contact()["message"]


def test_a_key_from_another_address_is_a_submission_of_its_own(api_client):
    key = "guessable-1"
    victim = _post(api_client, contact(), key=key, ip="203.0.113.7")
    other = _post(api_client, contact(), key=key, ip="198.51.100.9")
    assert (victim.status_code, other.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in other
    assert other.json()["id"] != victim.json()["id"]
    assert FormSubmission.objects.count() == 2
    # And each address still replays its own.
    assert _post(api_client, contact(), key=key, ip="198.51.100.9").json()["id"] == other.json()["id"]
    assert _post(api_client, contact(), key=key, ip="203.0.113.7").json()["id"] == victim.json()["id"]


def test_a_signed_in_user_is_one_scope_from_any_address(api_client):
    alice, bob = UserFactory(), UserFactory()
    api_client.force_authenticate(alice)
    first = _post(api_client, contact(), key="k", ip="203.0.113.7")
    moved = _post(api_client, contact(), key="k", ip="198.51.100.9")  # same user, new address
    assert (first.status_code, moved.status_code) == (201, 200)
    assert moved.json()["id"] == first.json()["id"]
    api_client.force_authenticate(bob)
    bobs = _post(api_client, contact(), key="k", ip="203.0.113.7")  # another user, same address
    assert bobs.status_code == 201 and bobs.json()["id"] != first.json()["id"]
    assert FormSubmission.objects.filter(user=alice).count() == 1
    assert FormSubmission.objects.filter(user=bob).count() == 1


def test_the_scope_is_not_stored_in_clear(api_client):
    _post(api_client, contact(), key="k", ip="203.0.113.7")
    row = FormSubmission.objects.get()
    assert "203.0.113.7" not in row.idempotency_scope and len(row.idempotency_scope) == 64
    assert len(row.idempotency_fingerprint) == 64


def test_the_same_key_on_another_form_is_still_another_submission(api_client, published_services):
    first = _post(api_client, contact(), key="k")
    second = _post(api_client, demo(), key="k", url=DEMO_URL)
    assert (first.status_code, second.status_code) == (201, 201)


def test_the_schema_documents_the_422(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/submissions/contact/"]["post"]
    assert "422" in operation["responses"]
    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert "422" in header["description"] and "client" in header["description"]


# --- idempotency before throttling: a replay never gets a 429 and never spends the budget ----------


def _ip_budget_spent(settings, ip="203.0.113.7") -> int:
    return peek(
        f"lead-form:ip:{ip}", limit=settings.LEAD_FORM_LIMIT_PER_IP, window=settings.LEAD_FORM_WINDOW
    ).count


def test_a_retry_after_the_budget_is_spent_gets_the_replay_and_spends_nothing(api_client, settings):
    settings.LEAD_FORM_LIMIT_PER_IP = 2
    key = str(uuid.uuid4())
    first = _post(api_client, contact(), key=key)
    assert _post(api_client, contact(email="b@example.com"), key=str(uuid.uuid4())).status_code == 201
    assert _post(api_client, contact(email="c@example.com"), key=str(uuid.uuid4())).status_code == 429
    spent = _ip_budget_spent(settings)

    again = _post(api_client, contact(), key=key)
    assert (again.status_code, again["Idempotent-Replayed"]) == (200, "true")
    assert again.json()["id"] == first.json()["id"]
    assert _ip_budget_spent(settings) == spent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_its_own_first_request_waits_for_it_and_gets_the_replay_not_a_429(
    settings, monkeypatch
):
    """
    The retry's look-up runs while the first request's row is not committed yet, and misses it. Before,
    it was then throttled (429, budget spent); now it is counted only once its key is claimed, so its
    INSERT waits for the first request's commit and it gets the replay.
    """
    settings.LEAD_FORM_LIMIT_PER_IP = 1  # the first request spends the whole budget
    inside, release = threading.Event(), threading.Event()
    audit_record = services.audit_record

    def audit_then_hold(**kwargs):  # the first request, inside its transaction after its INSERT
        inside.set()
        assert release.wait(10)
        return audit_record(**kwargs)

    monkeypatch.setattr(services, "audit_record", audit_then_hold)
    key, first = str(uuid.uuid4()), {}

    def send_first():
        try:
            first["response"] = _post(APIClient(), contact(), key=key)
        finally:
            connection.close()

    sender = threading.Thread(target=send_first)
    sender.start()
    try:
        assert inside.wait(10)
        # Let the first request commit a moment after the retry has started waiting on it.
        threading.Timer(0.5, release.set).start()
        retry = _post(APIClient(), contact(), key=key)
    finally:
        release.set()
        sender.join(10)

    assert first["response"].status_code == 201
    assert retry.status_code == 200, retry.content
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json()["id"] == first["response"].json()["id"]
    assert _ip_budget_spent(settings) == 1
    assert FormSubmission.objects.count() == 1
