"""
Issue 13, item 1: erasure for an address without an account goes through an admin who confirms it;
it is audited and journaled (blind index only) like an account's erasure, and replayed after a restore.
"""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from common.crypto import email_blind_index
from compliance.gdpr import AccountExistsRefused, visitor_data_erase
from compliance.journal import journal_path
from compliance.models import ErasureRecord
from compliance.replay import erasures_replay
from submissions.models import FormSubmission
from submissions.tests.factories import FormSubmissionFactory

pytestmark = pytest.mark.django_db

VISITOR = "Visitor@Corp.example"
URL = "/admin/accounts/user/erase-visitor-data/"


def _form(email=VISITOR, user=None, message="Secret plans."):
    return FormSubmissionFactory(user=user, data={"name": "V", "email": email, "message": message})


def _journal() -> list[dict]:
    path = journal_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_the_url_is_the_admins():
    assert reverse("admin:accounts_user_erase_visitor_data") == URL


def test_admin_previews_the_count_then_erases_only_that_visitors_forms(
    admin_client, django_capture_on_commit_callbacks
):
    mine = [_form(), _form(email="visitor@corp.example")]
    other = _form(email="someone.else@corp.example")
    signed_in = _form(user=UserFactory(email="member@corp.example"))  # sent with VISITOR while signed in

    changelist = admin_client.get(reverse("admin:accounts_user_changelist")).content.decode()
    assert URL in changelist
    assert admin_client.get(URL).status_code == 200

    preview = admin_client.post(URL, {"email": VISITOR})
    page = preview.content.decode()
    assert preview.status_code == 200
    assert "sent without an account with this address: <strong>2</strong>" in " ".join(page.split())
    assert 'name="confirm" value="yes"' in page
    assert FormSubmission.objects.count() == 4  # nothing happens before the confirmation

    with django_capture_on_commit_callbacks(execute=True):
        done = admin_client.post(URL, {"email": VISITOR, "confirm": "yes"}, follow=True)

    assert "Erased the visitor" in done.content.decode()
    remaining = set(FormSubmission.objects.values_list("pk", flat=True))
    assert remaining == {other.pk, signed_in.pk}
    assert not remaining & {row.pk for row in mine}

    record = ErasureRecord.objects.get()
    assert record.user_id is None and record.reason == "visitor"
    assert record.email_hash == email_blind_index(VISITOR) and record.actor_id == admin_client.admin.pk
    event = AuditLog.objects.get(action="visitor.erased")
    assert event.actor_id == admin_client.admin.pk and event.changes == {"submissions": 2}
    assert event.entity_id == str(record.pk)
    [line] = _journal()
    assert line["record_id"] == str(record.pk) and line["user_id"] is None
    everything = json.dumps([line, list(AuditLog.objects.values_list("changes", flat=True))]).lower()
    assert "corp.example" not in everything and "visitor@" not in everything


def test_an_address_with_an_account_is_refused_and_pointed_to_the_account_erasure(admin_client):
    UserFactory(email="visitor@corp.example")
    form = _form()

    preview = admin_client.post(URL, {"email": VISITOR}).content.decode()
    assert "This address has an account" in preview and 'name="confirm"' not in preview
    refused = admin_client.post(URL, {"email": VISITOR, "confirm": "yes"})
    assert refused.status_code == 200 and "erase the account" in refused.content.decode()
    assert FormSubmission.objects.filter(pk=form.pk).exists() and not ErasureRecord.objects.exists()
    with pytest.raises(AccountExistsRefused):
        visitor_data_erase(email=VISITOR, actor=admin_client.admin)


def test_a_bad_address_is_a_form_error_not_a_500(admin_client):
    response = admin_client.post(URL, {"email": "not an address", "confirm": "yes"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not ErasureRecord.objects.exists()


@pytest.mark.parametrize("role", [Role.EDITOR, Role.USER, None])
def test_only_admins_reach_it(role):
    _form()
    client = Client()
    if role:
        client.force_login(UserFactory(role=role))
    for response in (client.get(URL), client.post(URL, {"email": VISITOR, "confirm": "yes"})):
        assert response.status_code in (302, 403)
        if role == Role.EDITOR:
            assert response.status_code == 403
    assert FormSubmission.objects.count() == 1 and not ErasureRecord.objects.exists()


def test_the_post_needs_the_csrf_token(django_capture_on_commit_callbacks):
    admin = UserFactory(role=Role.ADMIN)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    _form()
    response = client.post(URL, {"email": VISITOR, "confirm": "yes"})
    assert response.status_code == 403
    assert FormSubmission.objects.count() == 1


def test_a_restore_brings_the_forms_back_and_the_replay_erases_them_again(
    django_capture_on_commit_callbacks,
):
    admin = UserFactory(role=Role.ADMIN)
    before = timezone.now()
    form = _form()
    snapshot = FormSubmission.objects.filter(pk=form.pk).values().get()
    with django_capture_on_commit_callbacks(execute=True):
        record = visitor_data_erase(email=VISITOR, actor=admin)
    # The restore: the form is back, the record is gone (the backup predates both).
    FormSubmission.objects.create(**{k: v for k, v in snapshot.items() if k != "id"}, id=snapshot["id"])
    ErasureRecord.objects.all().delete()
    later = _form(message="Sent after the erasure: a new consent.")
    signed_in = _form(user=UserFactory(email="member@corp.example"))
    FormSubmission.objects.filter(pk__in=[later.pk, signed_in.pk]).update(created_at=record.erased_at)
    FormSubmission.objects.filter(pk=later.pk).update(created_at=timezone.now())

    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("replay_erasures", "--since", before.isoformat(), stdout=out)

    assert "(visitor)" in out.getvalue() and str(record.pk) in out.getvalue()
    assert set(FormSubmission.objects.values_list("pk", flat=True)) == {later.pk, signed_in.pk}
    restored = ErasureRecord.objects.get()
    assert restored.pk == record.pk and restored.user_id is None
    assert erasures_replay(since=before)["changed"] is False
