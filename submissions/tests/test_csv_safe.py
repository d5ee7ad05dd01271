"""The CSV export's formula guard (CSV injection): what a spreadsheet could run is made text."""

import csv
import io

import pytest
from django.urls import reverse

from common.crypto import email_blind_index
from submissions.models import FormSubmission
from submissions.services import csv_safe_cell

DANGEROUS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\x00=1",
    "\x1b[0m",
    ";=1+1",  # a semicolon locale splits here and runs what follows
    ";;=1+1",
    "; =1+1",
    "\ufeff=1+1",  # byte-order mark
    "\u200b=1+1",  # zero-width space
    "\u200c=1+1",
    "\u200d=1+1",
    "\u2060=1+1",  # word joiner
    "  \u200b =1+1",
    "\uff1d1+1",  # full-width equals
    "\uff0b1+1",
    "\uff0d1+1",
    "\uff20SUM(A1)",
    "\u200b\uff1d1+1",
    '=HYPERLINK("http://evil")',
    # A phone number in international form: a spreadsheet reads "+91 …" as a formula too (OWASP:
    # neutralise every such cell), so it is kept as text with the apostrophe.
    "+91 98450 11223",
    "-5",
]

HARMLESS = [
    "",
    "Hello",
    "98450 11223",
    "a=b",
    "email@example.com",
    "1+1",
    " hello",
    "\u200bhello",
    "Data; more data",
    "café ＝ equal",
]


@pytest.mark.parametrize("value", DANGEROUS)
def test_a_cell_a_spreadsheet_could_run_is_neutralised(value):
    assert csv_safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", HARMLESS)
def test_a_harmless_cell_is_kept_as_it_is(value):
    assert csv_safe_cell(value) == value


def test_non_strings_are_written_as_text():
    assert csv_safe_cell(42) == "42"
    assert csv_safe_cell(-3) == "'-3"


@pytest.mark.django_db
def test_the_export_neutralises_the_new_cases(admin_client):
    ids = {}
    for message in (";=1+1", "\ufeff=1+1", "\u200b=1+1", "\uff1d1+1", "Hello"):
        data = {"name": "Lakshmi", "email": "lakshmi@example.com", "message": message}
        row = FormSubmission.objects.create(
            form_type="contact", data=data, email_hash=email_blind_index(data["email"])
        )
        ids[str(row.pk)] = message
    response = admin_client.post(
        reverse("admin:submissions_formsubmission_changelist"),
        {"action": "export_csv", "_selected_action": list(ids)},
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    exported = {row["id"]: row["message"] for row in rows}
    assert exported == {pk: (m if m == "Hello" else "'" + m) for pk, m in ids.items()}
