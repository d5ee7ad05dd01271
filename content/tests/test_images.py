"""The media library: what an upload must be, the renditions made from it, and where files end up."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image as Pillow

from accounts.models import Role
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from content.images import ImageRefused, image_check, renditions_make
from content.models import Image
from content.services import image_delete, image_renditions_make
from uploads.scanning import EICAR

from .factories import CaseStudyFactory, ServiceFactory

pytestmark = pytest.mark.django_db

GPS = 0x8825


def jpeg(width=1600, height=1000, *, orientation=None, secret=b"") -> bytes:
    """A JPEG with a camera, a GPS position and a comment in its metadata, as phones write them."""
    image = Pillow.linear_gradient("L").resize((width, height)).convert("RGB")
    exif = Pillow.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x9286] = "taken at home"  # UserComment (in the IFD, close enough for Pillow)
    exif.get_ifd(GPS)[2] = (12.0, 58.0, 0.0)  # latitude of Bengaluru
    if orientation:
        exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), comment=b"a comment " + secret)
    return buffer.getvalue()


def png(width=300, height=200, mode="RGBA") -> bytes:
    buffer = io.BytesIO()
    Pillow.new(mode, (width, height), (200, 30, 30, 0) if mode == "RGBA" else (200, 30, 30)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A PNG whose header claims 10 billion pixels: what a decompression bomb looks like to the checks."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def _file(tmp_path, name, data) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# --- The checks -------------------------------------------------------------------------------------------


def test_jpeg_and_png_pass_the_checks(tmp_path):
    assert image_check(_file(tmp_path, "a.jpg", jpeg()), "a.jpg").kind == "jpeg"
    checked = image_check(_file(tmp_path, "b.png", png()), "b.png")
    assert (checked.kind, checked.width, checked.height) == ("png", 300, 200)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.jpg", b"just some text, not a picture\n" * 10, "the content is a CSV table"),
        ("anim.gif", b"GIF89a" + b"\0" * 100, "not accepted"),
        ("page.jpg", b"%PDF-1.4\n" + b"\0" * 100, "not accepted"),
        ("bomb.png", png_bomb(), "decompression bomb"),
        ("big.png", png_bomb(8000, 6000), "the limit is 40,000,000 pixels"),
        ("broken.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 50, "not a readable JPEG"),
    ],
)
def test_what_is_not_a_plain_picture_is_refused_with_the_reason(tmp_path, name, data, reason):
    with pytest.raises(ImageRefused, match=reason):
        image_check(_file(tmp_path, name, data), name)


# `engine`, the real clamd and the built-in stand-in in turn: conftest.py.


def test_a_picture_carrying_malware_is_refused(tmp_path, engine):
    # A valid JPEG with the EICAR test string after its end: the sniffer and Pillow take it, the scan not.
    with pytest.raises(ImageRefused, match="malware"):
        image_check(_file(tmp_path, "a.jpg", jpeg() + EICAR), "a.jpg")
    assert image_check(_file(tmp_path, "b.jpg", jpeg()), "b.jpg").kind == "jpeg"


def test_a_scanner_that_cannot_be_reached_refuses_the_upload_for_now(tmp_path, settings):
    settings.CLAMAV_URL = "tcp://127.0.0.1:1"  # nothing listens there
    settings.CLAMAV_TIMEOUT = 2.0
    with pytest.raises(ImageRefused, match="could not be completed .*try again in a minute"):
        image_check(_file(tmp_path, "a.jpg", jpeg()), "a.jpg")


# --- Renditions ---------------------------------------------------------------------------------------------


def _opened(rendition):
    return Pillow.open(io.BytesIO(rendition.data))


def test_renditions_in_each_width_and_format_hold_the_pixels_and_no_metadata(tmp_path):
    made = renditions_make(_file(tmp_path, "a.jpg", jpeg(secret=b"SECRET")), "jpeg", widths=(400, 1200))
    assert [(r.width, r.height, r.format) for r in made] == [
        (1200, 750, "webp"),
        (1200, 750, "jpeg"),
        (400, 250, "webp"),
        (400, 250, "jpeg"),
    ]
    for rendition in made:
        opened = _opened(rendition)
        assert opened.format == rendition.format.upper()
        assert opened.size == (rendition.width, rendition.height)
        assert not opened.getexif() and "exif" not in opened.info and "comment" not in opened.info
        assert b"SecretCam" not in rendition.data and b"SECRET" not in rendition.data


def test_orientation_is_applied_and_small_pictures_are_not_enlarged(tmp_path):
    # Orientation 6: the camera was turned; the picture is taller than the pixels are stored.
    made = renditions_make(
        _file(tmp_path, "a.jpg", jpeg(1600, 1000, orientation=6)), "jpeg", widths=(400, 1200)
    )
    assert (made[0].width, made[0].height) == (1000, 1600)
    small = renditions_make(_file(tmp_path, "b.png", png(300, 200)), "png", widths=(400, 1200))
    assert [(r.width, r.format) for r in small] == [(300, "webp"), (300, "jpeg")]


def test_transparency_is_kept_in_webp_and_shows_white_in_jpeg(tmp_path):
    made = renditions_make(_file(tmp_path, "a.png", png(300, 200)), "png", widths=(300,))
    webp, jpg = (_opened(r) for r in made)
    assert webp.mode == "RGBA" and webp.getpixel((5, 5))[3] == 0
    assert jpg.mode == "RGB" and jpg.getpixel((5, 5)) == (255, 255, 255)


# --- The library in the admin -----------------------------------------------------------------------------


@pytest.fixture
def editor(django_capture_on_commit_callbacks):
    client = Client()
    client.force_login(UserFactory(role=Role.EDITOR))
    client.on_commit = django_capture_on_commit_callbacks
    return client


def _upload(editor, data, name="photo.jpg", **fields):
    """The add form posted as an editor does; the renditions task queued on commit runs (eagerly)."""
    form = {"alt_text": "Annotators at work in Mysuru", "credit": "IndiVillage", "focal_x": "", "focal_y": ""}
    form |= fields
    form["upload"] = SimpleUploadedFile(name, data)
    with editor.on_commit(execute=True):
        return editor.post(reverse("admin:content_image_add"), form)


def _files(settings_name):
    root = Path(storages[settings_name].location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_an_upload_is_kept_privately_and_only_renditions_are_public(editor):
    response = _upload(editor, jpeg(secret=b"SECRET"))
    assert response.status_code == 302
    image = Image.objects.get()
    assert image.state == Image.State.READY  # the renditions task ran (eagerly in tests)
    assert (image.kind, image.width, image.height) == ("jpeg", 1600, 1000)
    assert _files("private") == [f"library/{image.pk}.jpg"]
    assert _files("public_media") == sorted(
        f"library/{image.pk}/{width}.{fmt}" for width in (400, 1200) for fmt in ("webp", "jpeg")
    )
    for name in _files("public_media"):
        assert b"SECRET" not in storages["public_media"].open(name).read()
    assert AuditLog.objects.filter(action="image.uploaded", entity_id=str(image.pk)).exists()
    page = editor.get(reverse("admin:content_image_changelist")).content.decode()
    assert f'src="/media/library/{image.pk}/400.jpeg"' in page


@pytest.mark.parametrize(
    ("data", "name", "fields", "field", "message"),
    [
        (b"not a picture\n" * 20, "photo.jpg", {}, "upload", "the content is plain text"),
        (png_bomb(), "bomb.png", {}, "upload", "decompression bomb"),
        (jpeg() + EICAR, "photo.jpg", {}, "upload", "malware"),
        (jpeg(), "photo.jpg", {"alt_text": ""}, "alt_text", "This field is required."),
        (jpeg(), "photo.jpg", {"focal_x": "1.5", "focal_y": "0.2"}, "focal_x", "less than or equal to 1"),
        (jpeg(), "photo.jpg", {"focal_x": "0.5"}, "focal_y", "Give both coordinates of the focal point"),
    ],
)
def test_a_refused_upload_says_why_on_its_field_and_keeps_nothing(
    editor, engine, data, name, fields, field, message
):
    response = _upload(editor, data, name, **fields)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field]), errors
    assert not Image.objects.exists()
    assert _files("private") == [] and _files("public_media") == []


def test_an_upload_over_the_size_limit_is_refused(editor, settings):
    settings.IMAGE_MAX_BYTES = 1000
    response = _upload(editor, jpeg())
    assert "images up to 0 MB" in " ".join(response.context["adminform"].form.errors["upload"])
    assert not Image.objects.exists()


def test_a_picture_that_cannot_be_rendered_is_marked_failed(editor, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("truncated")

    monkeypatch.setattr("content.services.renditions_make", broken)
    _upload(editor, jpeg())
    image = Image.objects.get()
    assert image.state == Image.State.FAILED and "truncated" in image.error
    assert _files("public_media") == []


def test_deleting_an_image_removes_its_files_and_unsets_it(editor, django_capture_on_commit_callbacks):
    _upload(editor, jpeg())
    image = Image.objects.get()
    case_study = CaseStudyFactory(hero_image=image)
    with django_capture_on_commit_callbacks(execute=True):
        image_delete(image=image, actor=None)
    assert _files("private") == [] and _files("public_media") == []
    case_study.refresh_from_db()
    assert case_study.hero_image is None


# --- The API ------------------------------------------------------------------------------------------------


def _ready_image(tmp_path, **fields) -> Image:
    data = jpeg()
    image = Image.objects.create(
        alt_text=fields.pop("alt_text", "A picture"),
        original="library/x.jpg",
        kind="jpeg",
        width=1600,
        height=1000,
        size=len(data),
        **fields,
    )
    image_renditions_make(image_id=image.pk)  # from the original, written as the upload would be
    image.refresh_from_db()
    return image


@pytest.fixture
def original(tmp_path):
    storages["private"].save("library/x.jpg", io.BytesIO(jpeg()))


def test_the_api_serves_each_image_with_its_renditions(api_client, original, tmp_path):
    hero = _ready_image(tmp_path, alt_text="Chest X-ray being labelled", focal_x=0.3, focal_y=0.6)
    extra = _ready_image(tmp_path, alt_text="Review station")
    case_study = CaseStudyFactory(slug="xray", hero_image=hero)
    case_study.gallery.set([hero, extra])

    for body in (
        api_client.get("/api/v1/case-studies/xray/").json(),
        api_client.get("/api/v1/case-studies/").json()["results"][0],
    ):
        shown = body["hero_image"]
        assert shown["alt_text"] == "Chest X-ray being labelled"
        assert (shown["url"], shown["width"], shown["height"]) == (
            f"/media/library/{hero.pk}/1200.jpeg",
            1200,
            750,
        )
        assert shown["focal_point"] == {"x": 0.3, "y": 0.6}
        assert [(r["width"], r["format"]) for r in shown["renditions"]] == [
            (1200, "webp"),
            (1200, "jpeg"),
            (400, "webp"),
            (400, "jpeg"),
        ]
        assert [image["alt_text"] for image in body["gallery"]] == [
            "Chest X-ray being labelled",
            "Review station",
        ]
    assert api_client.get(f"/api/v1/services/{ServiceFactory(icon_image=extra).slug}/").json()["icon_image"][
        "id"
    ] == str(extra.pk)


def test_an_image_still_being_rendered_is_null_in_the_api(api_client):
    waiting = Image.objects.create(
        alt_text="Soon", original="library/y.jpg", kind="jpeg", width=10, height=10, size=1
    )
    CaseStudyFactory(slug="waiting", hero_image=waiting).gallery.set([waiting])
    body = api_client.get("/api/v1/case-studies/waiting/").json()
    assert body["hero_image"] is None and body["gallery"] == []


def test_images_add_a_constant_number_of_queries_to_the_list(
    api_client, original, tmp_path, django_assert_num_queries
):
    images = [_ready_image(tmp_path) for _ in range(3)]
    for index in range(6):
        CaseStudyFactory(hero_image=images[index % 3]).gallery.set(images[: index % 3])
    api_client.get("/api/v1/case-studies/?search=warm")
    # Count, page, results, services, the galleries' links and the images: six, for any number of rows.
    with django_assert_num_queries(6):
        assert len(api_client.get("/api/v1/case-studies/?limit=100").json()["results"]) == 6


def test_renditions_go_to_a_public_s3_bucket_when_one_is_configured(settings, original, api_client):
    """S3 cannot run here: moto stands in for it, behind django-storages' real S3Storage."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(
            Bucket="indivillage-media", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        settings.STORAGES = {
            **settings.STORAGES,
            "public_media": {
                "BACKEND": "storages.backends.s3.S3Storage",
                # As config/settings/base.py sets them for PUBLIC_MEDIA_S3_BUCKET (config/tests/test_settings.py).
                "OPTIONS": {
                    "bucket_name": "indivillage-media",
                    "location": "media",
                    "region_name": "eu-west-1",
                    "custom_domain": "media.indivillage.com",
                    "querystring_auth": False,
                    "file_overwrite": False,
                },
            },
        }
        image = Image.objects.create(
            alt_text="In the bucket", original="library/x.jpg", kind="jpeg", width=1600, height=1000, size=1
        )
        image_renditions_make(image_id=image.pk)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="indivillage-media")["Contents"])
        assert keys == sorted(
            f"media/library/{image.pk}/{w}.{f}" for w in (400, 1200) for f in ("webp", "jpeg")
        )
        CaseStudyFactory(slug="s3", hero_image=image)
        hero = api_client.get("/api/v1/case-studies/s3/").json()["hero_image"]
        assert hero["url"] == f"https://media.indivillage.com/media/library/{image.pk}/1200.jpeg"
        assert all("?" not in r["url"] for r in hero["renditions"])
    # Nothing was written to the local media folder.
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_a_broker_that_is_down_keeps_the_upload_and_the_action_queues_it_again(editor, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr("content.services.task_delay", down)
    assert _upload(editor, jpeg()).status_code == 302  # saved, not a 500
    image = Image.objects.get()
    assert image.state == Image.State.PROCESSING and _files("public_media") == []

    monkeypatch.undo()
    url = reverse("admin:content_image_changelist")
    response = editor.post(
        url, {"action": "renditions_remake", "_selected_action": [str(image.pk)]}, follow=True
    )
    assert "Renditions queued for 1 picture(s)." in response.content.decode()
    image.refresh_from_db()
    assert image.state == Image.State.READY and len(_files("public_media")) == 4
