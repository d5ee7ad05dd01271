"""
The case-study digest (content.digest): who gets it, what it lists, one mail per user per digest however
often the job runs, a failed mail retried, the one-click unsubscribe, the preference in the API and the
admin, and on PostgreSQL the GIN index behind the selector.
"""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import connection
from django.utils import timezone

from accounts.models import User
from accounts.selectors import users_with_preference
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.models import PublishStatus
from content.digest import case_study_digest_send as digest_send
from content.models import Digest, DigestDelivery
from content.tasks import case_study_digest_send

from .factories import CaseStudyFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
HOURS = datetime.timedelta(hours=1)
DAYS = datetime.timedelta(days=1)


def _user(email, *, digest=True, verified=True, **fields):
    user = UserFactory(email=email)
    preferences = {"notifications": True, "case_study_digest": digest, "theme": "light"}
    User.objects.filter(pk=user.pk).update(
        preferences=preferences, email_verified_at=NOW - DAYS if verified else None, **fields
    )
    user.refresh_from_db()
    return user


@pytest.fixture
def readers():
    return {
        "reader": _user("reader@example.com"),
        "unverified": _user("unverified@example.com", verified=False),
        "default": _user("default@example.com", digest=False),
        "inactive": _user("inactive@example.com", is_active=False),
        "anonymised": _user("anon@example.com", anonymized_at=NOW - DAYS),
    }


@pytest.fixture
def stories():
    return {
        "old": CaseStudyFactory(title="Old news", published_at=NOW - 10 * DAYS),
        "yesterday": CaseStudyFactory(title="Xray labelling", client="Medico", published_at=NOW - DAYS),
        "today": CaseStudyFactory(title="Speech data", published_at=NOW - 2 * HOURS),
        "scheduled": CaseStudyFactory(title="Not yet", published_at=NOW + DAYS),
        "draft": CaseStudyFactory(title="A draft", status=PublishStatus.DRAFT, published_at=None),
        "expired": CaseStudyFactory(title="Gone again", published_at=NOW - DAYS, expires_at=NOW - HOURS),
    }


def test_opted_in_verified_users_get_one_mail_of_what_was_published_since(readers, stories):
    result = digest_send(now=NOW)

    assert (result.case_studies, result.sent, result.failed, result.resumed) == (2, 1, 0, False)
    assert [m.to for m in mail.outbox] == [["reader@example.com"]]
    message = mail.outbox[0]
    assert message.subject == "2 new IndiVillage case studies"
    # Newest first, with their links; nothing older than the first window, scheduled, draft or expired.
    assert message.body.index("Speech data") < message.body.index("Xray labelling (Medico, ")
    assert "https://indivillage.com/case-studies/" + stories["yesterday"].slug in message.body
    for title in ("Old news", "Not yet", "A draft", "Gone again"):
        assert title not in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://indivillage.com/unsubscribe?token=" in message.body
    digest = Digest.objects.get()
    assert (digest.window_start, digest.window_end) == (NOW - 7 * DAYS, NOW)
    audit = AuditLog.objects.get(action="content.digest_sent")
    assert audit.changes == {"case_studies": 2, "sent": 1, "failed": 0, "resumed": False}


def test_running_again_sends_nobody_a_second_mail_but_reaches_a_new_reader(readers, stories):
    digest_send(now=NOW)
    again = digest_send(now=NOW + HOURS)
    assert (again.resumed, again.sent) == (True, 0)
    assert len(mail.outbox) == 1

    _user("late@example.com")
    third = digest_send(now=NOW + 2 * HOURS)
    assert (third.resumed, third.sent) == (True, 1)
    assert [m.to for m in mail.outbox] == [["reader@example.com"], ["late@example.com"]]
    assert Digest.objects.count() == 1
    assert DigestDelivery.objects.count() == 2


def test_the_next_digest_lists_only_what_came_after_the_last(readers, stories):
    digest_send(now=NOW)
    later = NOW + 21 * HOURS
    quiet = digest_send(now=later)
    # Nothing new: a digest is recorded (the window moves on) and nobody is mailed.
    assert (quiet.resumed, quiet.case_studies, quiet.sent) == (False, 0, 0)
    CaseStudyFactory(title="Fresh", published_at=later + HOURS)
    fresh = digest_send(now=later + 22 * HOURS)
    # The story scheduled for NOW + 1 day came out in this window: news now.
    assert (fresh.case_studies, fresh.sent) == (2, 1)
    body = mail.outbox[-1].body
    assert "Fresh" in body and "Not yet" in body and "Speech data" not in body
    CaseStudyFactory(title="Solo", published_at=later + 30 * HOURS)
    assert digest_send(now=later + 44 * HOURS).sent == 1
    assert mail.outbox[-1].subject == "A new IndiVillage case study"
    assert "A new case study is on indivillage.com" in mail.outbox[-1].body


def test_a_mail_that_fails_is_not_recorded_and_the_next_run_sends_it(readers, stories, monkeypatch):
    _user("second@example.com")
    real_send = EmailMessage.send

    def send(message, *args, **kwargs):
        if message.to == ["reader@example.com"]:
            raise ConnectionRefusedError("SMTP down")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send)
    first = digest_send(now=NOW)
    assert (first.sent, first.failed) == (1, 1)
    assert list(DigestDelivery.objects.values_list("user__email", flat=True)) == ["second@example.com"]

    monkeypatch.setattr(EmailMessage, "send", real_send)
    retry = digest_send(now=NOW + HOURS)
    assert (retry.resumed, retry.sent, retry.failed) == (True, 1, 0)
    assert [m.to for m in mail.outbox] == [["second@example.com"], ["reader@example.com"]]


def test_the_task_retries_the_mails_that_failed_and_logs_no_address(readers, stories, monkeypatch, caplog):
    real_send = EmailMessage.send
    refusals = []

    def send(message, *args, **kwargs):
        if len(refusals) < 2:  # the mail server refuses twice, then takes it
            refusals.append(message.to)
            raise ConnectionRefusedError("550 reader@example.com: mailbox unavailable")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "send", send)
    case_study_digest_send.apply()
    assert refusals == [["reader@example.com"]] * 2
    assert [m.to for m in mail.outbox] == [["reader@example.com"]]
    assert Digest.objects.count() == 1 and DigestDelivery.objects.count() == 1
    failures = [r.getMessage() for r in caplog.records if r.name == "content.digest"]
    assert len(failures) == 2 and all("ConnectionRefusedError" in line for line in failures)
    assert not [r.getMessage() for r in caplog.records if "reader@" in r.getMessage()]


def test_the_beat_task_runs_the_digest(readers, stories):
    outcome = case_study_digest_send.delay().get()
    assert outcome["sent"] == 1 and outcome["case_studies"] == 2 and outcome["locked"] is False


def _one_click_url(message) -> str:
    return message.extra_headers["List-Unsubscribe"].strip("<>")


def test_one_click_unsubscribe_turns_the_digest_off_and_is_audited(readers, stories, api_client):
    digest_send(now=NOW)
    url = urlsplit(_one_click_url(mail.outbox[0]))
    assert url.path == "/api/v1/auth/unsubscribe/"
    # What a mail client sends (RFC 8058): a form body, the token in the URL, no cookie.
    response = api_client.post(
        f"{url.path}?{url.query}",
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    assert response.json()["detail"].startswith("Done: case study digest is off.")
    reader = User.objects.get(email="reader@example.com")
    assert reader.preferences["case_study_digest"] is False
    assert AuditLog.objects.filter(action="user.updated", entity_id=str(reader.pk)).exists()
    # The same link again, here from the public site's page as JSON: the same answer, nothing changed.
    token = parse_qs(url.query)["token"][0]
    assert api_client.post(url.path, {"token": token}, format="json").status_code == 200
    assert not users_with_preference("case_study_digest").filter(pk=reader.pk).exists()
    digest_send(now=NOW + 21 * HOURS)
    CaseStudyFactory(title="After", published_at=NOW + 22 * HOURS)
    assert digest_send(now=NOW + 43 * HOURS).sent == 0


@pytest.mark.parametrize("token", ["", "nonsense", "x" * 600])
def test_a_bad_unsubscribe_token_is_a_400_on_the_field(api_client, token):
    response = api_client.post("/api/v1/auth/unsubscribe/", {"token": token}, format="json")
    assert response.status_code == 400
    assert "token" in response.json()["error"]["fields"]


@pytest.mark.parametrize("body", ["[]", '"a-token"', "null"])
def test_a_body_that_is_not_an_object_is_a_400(api_client, body):
    response = api_client.post("/api/v1/auth/unsubscribe/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"token": ["This field is required."]}


def test_the_preference_is_in_the_profile_api(readers, api_client):
    reader = readers["default"]
    api_client.force_authenticate(reader)
    assert api_client.get("/api/v1/me/").json()["preferences"]["case_study_digest"] is False
    answer = api_client.patch("/api/v1/me/", {"preferences": {"case_study_digest": True}}, format="json")
    assert answer.status_code == 200 and answer.json()["preferences"]["case_study_digest"] is True
    bad = api_client.patch("/api/v1/me/", {"preferences": {"case_study_digest": "yes"}}, format="json")
    assert bad.status_code == 400


def test_the_admin_filters_users_by_preference(readers, admin_client):
    page = admin_client.get("/admin/accounts/user/?preference=case_study_digest:on").content.decode()
    for email in ("reader@", "unverified@", "inactive@", "anon@"):
        assert email in page
    assert "default@example.com" not in page
    off = admin_client.get("/admin/accounts/user/?preference=case_study_digest:off").content.decode()
    assert "default@example.com" in off and "reader@example.com" not in off
    assert "Case study digest: on" in page


def test_rows_without_the_key_take_the_default(readers):
    User.objects.filter(email="default@example.com").update(preferences={"theme": "dark"})
    assert (
        users_with_preference("case_study_digest", enabled=False).filter(email="default@example.com").exists()
    )
    assert users_with_preference("notifications").filter(email="default@example.com").exists()
    with pytest.raises(ValueError):
        users_with_preference("theme")


@pytest.mark.postgres
def test_on_postgresql_the_selector_is_answered_by_the_gin_index(readers):
    query = users_with_preference("case_study_digest").values("pk").query
    sql, params = query.sql_with_params()
    assert "@>" in sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "accounts_user_prefs_gin" in plan, plan


def test_the_admin_lists_the_digests_with_their_counts(readers, stories, admin_client):
    digest_send(now=NOW)
    page = admin_client.get("/admin/content/digest/")
    assert page.status_code == 200
    row = page.content.decode().split('class="field-window_end')[1].split("</tr>")[0]
    assert '<td class="field-case_study_count">2</td>' in row
    assert '<td class="field-delivery_count">1</td>' in row
