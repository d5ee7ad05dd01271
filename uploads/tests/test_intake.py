from unittest import mock

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.tests.factories import UserFactory
from accounts.tests.sessions import browser_session
from audit.models import AuditLog
from uploads.models import FileUpload
from uploads.sniffing import sanitize_filename

from . import files

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(api_client):
    user = UserFactory()
    api_client.force_authenticate(user)
    return user


@pytest.fixture(autouse=True)
def no_processing():
    # Intake only: scanning and analysis have their own tests.
    with mock.patch("uploads.services.upload_enqueue") as enqueue:
        yield enqueue


def _post(api_client, name, data, field="file"):
    return api_client.post("/api/v1/uploads/", {field: SimpleUploadedFile(name, data)}, format="multipart")


def _stored_files() -> list[str]:
    storage = storages["private"]
    found = []

    def walk(folder):
        try:
            dirs, names = storage.listdir(folder)
        except FileNotFoundError:
            return
        found.extend(f"{folder}/{n}" if folder else n for n in names)
        for d in dirs:
            walk(f"{folder}/{d}" if folder else d)

    walk("")
    return found


@pytest.mark.parametrize(
    ("name", "make", "mime"),
    [
        ("scores.csv", files.csv_bytes, "text/csv"),
        ("scores.tsv", files.tsv_bytes, "text/tab-separated-values"),
        ("records.json", files.json_bytes, "application/json"),
        ("events.ndjson", files.ndjson_bytes, "application/x-ndjson"),
        ("events.jsonl", files.ndjson_bytes, "application/x-ndjson"),
        ("notes.txt", files.text_bytes, "text/plain"),
        ("book.xlsx", files.xlsx_bytes, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ("photo.png", lambda: files.image_bytes("PNG"), "image/png"),
        ("photo.jpg", lambda: files.image_bytes("JPEG"), "image/jpeg"),
        ("photo.jpeg", lambda: files.image_bytes("JPEG"), "image/jpeg"),
        ("no-extension", files.csv_bytes, "text/csv"),
    ],
)
def test_every_accepted_type_is_stored_by_its_content(
    api_client, owner, no_processing, django_capture_on_commit_callbacks, name, make, mime
):
    import hashlib

    data = make()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client, name, data)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["mime_type"] == mime and body["status"] == "uploaded" and body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    upload = FileUpload.objects.get(pk=body["id"])
    # Stored under its id, in private storage, byte for byte.
    assert upload.pk.hex in upload.storage_path and name not in upload.storage_path
    with storages["private"].open(upload.storage_path, "rb") as handle:
        assert handle.read() == data
    assert list(AuditLog.objects.filter(entity_id=str(upload.pk)).values_list("action", flat=True)) == [
        "upload.pending",
        "upload.uploading",
        "upload.uploaded",
    ]
    no_processing.assert_called_once()


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.csv", b"", 400, "empty_file"),
        ("tool.csv", b"MZ\x90\x00" + b"\x00" * 200, 415, "executable"),
        ("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, 415, "executable"),
        ("run.txt", b"#!/bin/sh\nrm -rf /\n", 415, "executable"),
        ("page.txt", b"<!DOCTYPE html><html><script>alert(1)</script></html>", 415, "markup"),
        ("page.csv", b"  <html><body>hi</body></html>", 415, "markup"),
        (
            "logo.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            415,
            "markup",
        ),
        ("logo.svg", b'<svg onload="alert(1)"></svg>', 415, "markup"),
        ("data.zip", files.zip_bytes({"a.csv": b"a,b\n1,2\n"}), 415, "archive"),
        ("data.csv.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 50, 415, "archive"),
        ("doc.txt", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", 415, "type_not_allowed"),
        ("blob.bin", bytes(range(256)) * 4, 415, "type_not_allowed"),
        ("photo.csv", files.image_bytes("PNG"), 400, "type_mismatch"),
        ("scores.png", files.csv_bytes(), 400, "type_mismatch"),
        ("records.json", b"id,name\n1,a\n", 400, "type_mismatch"),
        ("book.xlsx", files.csv_bytes(), 400, "type_mismatch"),
        ("photo.jpg", files.image_bytes("PNG"), 400, "type_mismatch"),
    ],
)
def test_hostile_and_mismatched_files_are_refused_leaving_nothing(
    api_client, owner, name, data, status, code
):
    response = _post(api_client, name, data)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not FileUpload.objects.exists()
    assert _stored_files() == []


def test_a_zip_bomb_shaped_like_a_workbook_is_refused_before_unpacking(api_client, owner, settings):
    settings.UPLOAD_MAX_UNPACKED_BYTES = 1_000_000
    response = _post(api_client, "book.xlsx", files.zip_bomb_bytes(5_000_000))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "archive_too_large"
    settings.UPLOAD_MAX_ARCHIVE_ENTRIES = 2
    response = _post(api_client, "book.xlsx", files.xlsx_bytes())
    assert response.status_code == 413 and "entries" in response.json()["error"]["message"]
    assert not FileUpload.objects.exists()


def test_a_kind_left_out_of_the_setting_is_refused(api_client, owner, settings):
    settings.UPLOAD_ALLOWED_KINDS = ["csv"]
    response = _post(api_client, "photo.png", files.image_bytes("PNG"))
    assert response.status_code == 415 and response.json()["error"]["code"] == "type_not_allowed"


def test_the_size_limit_holds_while_the_body_streams(api_client, owner, settings):
    settings.UPLOAD_MAX_BYTES = 10_000
    # Content-Length within the framing slack: only the per-chunk count can catch it.
    from uploads import handlers

    with mock.patch.object(handlers, "_FRAMING_SLACK", 10**9):
        response = _post(api_client, "big.csv", files.csv_bytes(2000))
    assert response.status_code == 413 and response.json()["error"]["code"] == "file_too_large"
    # Content-Length alone already over: refused before the body is read.
    with mock.patch("uploads.handlers.LimitedUploadHandler.receive_data_chunk") as chunk:
        response = _post(api_client, "big.csv", files.csv_bytes(20000))
    assert response.status_code == 413
    chunk.assert_not_called()
    assert not FileUpload.objects.exists() and _stored_files() == []


def test_quota_of_files_and_bytes(api_client, owner, settings):
    settings.UPLOAD_QUOTA_FILES = 2
    assert _post(api_client, "a.csv", files.csv_bytes()).status_code == 201
    assert _post(api_client, "b.csv", files.csv_bytes()).status_code == 201
    third = _post(api_client, "c.csv", files.csv_bytes())
    assert third.status_code == 413 and third.json()["error"]["code"] == "quota_exceeded"
    settings.UPLOAD_QUOTA_FILES = 100
    settings.UPLOAD_QUOTA_BYTES = FileUpload.objects.filter(user=owner).first().size * 2 + 10
    big = _post(api_client, "d.csv", files.csv_bytes(50))
    assert big.status_code == 413 and "quota" in big.json()["error"]["message"]
    assert FileUpload.objects.filter(user=owner).count() == 2


def test_exactly_one_file_in_the_file_field(api_client, owner):
    assert _post(api_client, "a.csv", files.csv_bytes(), field="document").status_code == 400
    both = api_client.post(
        "/api/v1/uploads/",
        {
            "file": [
                SimpleUploadedFile("a.csv", files.csv_bytes()),
                SimpleUploadedFile("b.csv", files.csv_bytes()),
            ]
        },
        format="multipart",
    )
    assert both.status_code == 400
    assert not FileUpload.objects.exists()


def test_the_clients_name_is_sanitised_and_never_used_for_storage(api_client, owner):
    response = _post(api_client, "../../etc/\u202epasswd.csv", files.csv_bytes())
    assert response.status_code == 201
    upload = FileUpload.objects.get()
    assert upload.filename == "passwd.csv"
    assert ".." not in upload.storage_path and "passwd" not in upload.storage_path


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\me\\data.csv", "data.csv"),
        ("...hidden.csv", "hidden.csv"),
        ("a\x00b\nc.csv", "abc.csv"),
        ("", "upload"),
        ("x" * 300 + ".csv", "x" * 196 + ".csv"),
        ("Straße  résumé.txt", "Straße résumé.txt"),
    ],
)
def test_sanitize_filename(raw, clean):
    assert sanitize_filename(raw) == clean


def test_a_browser_session_uploads_like_a_token(db):
    # request.user is a lazy object with a session (it was a 500 on type(user).objects).
    user = UserFactory()
    browser, csrf = browser_session(user.email)
    data = files.csv_bytes()

    refused = browser.post(
        "/api/v1/uploads/", {"file": SimpleUploadedFile("a.csv", data)}, format="multipart"
    )
    response = browser.post(
        "/api/v1/uploads/", {"file": SimpleUploadedFile("a.csv", data)}, format="multipart", **csrf
    )

    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert response.status_code == 201
    upload = FileUpload.objects.get()
    assert (upload.user, upload.size, upload.status, str(upload.pk)) == (
        user,
        len(data),
        "uploaded",
        response.json()["id"],
    )
    assert AuditLog.objects.filter(action="upload.uploaded", actor=user, entity_id=str(upload.pk)).exists()


def test_uploads_need_an_account(api_client):
    response = _post(api_client, "a.csv", files.csv_bytes())
    assert response.status_code == 401
    assert not FileUpload.objects.exists()


def test_other_users_get_404_on_every_route(api_client, owner):
    upload_id = _post(api_client, "a.csv", files.csv_bytes()).json()["id"]
    api_client.force_authenticate(UserFactory())
    assert api_client.get("/api/v1/uploads/").json()["count"] == 0
    for method, url in (
        ("get", f"/api/v1/uploads/{upload_id}/"),
        ("get", f"/api/v1/uploads/{upload_id}/analysis/"),
        ("delete", f"/api/v1/uploads/{upload_id}/"),
    ):
        response = getattr(api_client, method)(url)
        assert response.status_code == 404, (method, url)
    assert FileUpload.objects.filter(pk=upload_id).exists()


def test_owner_lists_sees_and_deletes_with_file_and_audit(
    api_client, owner, django_capture_on_commit_callbacks
):
    upload_id = _post(api_client, "a.csv", files.csv_bytes()).json()["id"]
    listing = api_client.get("/api/v1/uploads/").json()
    assert [item["id"] for item in listing["results"]] == [upload_id]
    assert api_client.get(f"/api/v1/uploads/{upload_id}/").json()["filename"] == "a.csv"
    no_analysis = api_client.get(f"/api/v1/uploads/{upload_id}/analysis/")
    assert no_analysis.status_code == 404 and "uploaded" in no_analysis.json()["error"]["message"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.delete(f"/api/v1/uploads/{upload_id}/").status_code == 204
    assert not FileUpload.objects.exists()
    assert _stored_files() == []
    assert AuditLog.objects.filter(action="upload.deleted", entity_id=upload_id).count() == 1
