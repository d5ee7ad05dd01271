import logging
import tempfile
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from audit.services import audit_record
from common.caching import content_version_bump
from common.models import PublishStatus
from common.tasks import task_delay

from .images import Checked, ImageRefused, image_check, renditions_make
from .models import CaseStudy, CaseStudyResult, Image, Industry, Service, ServiceFeature
from .publishing import public_pages_changed
from .revisions import revision_record

logger = logging.getLogger(__name__)


@transaction.atomic
def service_create(
    *,
    name: str,
    slug: str,
    description: str,
    icon: str,
    order: int = 0,
    features: list[dict] | None = None,
    publish: bool = False,
    actor=None,
) -> Service:
    service = Service(name=name, slug=slug, description=description, icon=icon, order=order)
    if publish:
        service.status = PublishStatus.PUBLISHED
        service.published_at = timezone.now()
    service.full_clean()
    service.save()
    for position, feature in enumerate(features or []):
        item = ServiceFeature(service=service, order=position, **feature)
        item.full_clean()
        item.save()
    audit_record(actor=actor, action="content.created", entity=service, changes={"slug": slug})
    revision_record(instance=service, actor=actor, comment="Created")
    public_pages_changed(service)
    return service


@transaction.atomic
def reference_rows_ensure(*, model, rows: list[dict], key: str, via: str) -> tuple[dict, int]:
    """
    Reference rows (industries, locations) created where missing, for seeding: each dict is the
    arguments of one get_or_create. Returns the rows by their `key` field and how many were created.
    """
    found, created = {}, 0
    for row in rows:
        obj, new = model.objects.get_or_create(**row)
        found[getattr(obj, key)] = obj
        created += new
    if created:
        changes = {"rows": created, "via": via}
        audit_record(action="content.bulk_created", entity_type=model._meta.label_lower, changes=changes)
        # Retired, not warmed: a seed of many copies would render the pages once per copy.
        transaction.on_commit(content_version_bump)
    return found, created


def industries_ensure(*, names: list[str], via: str) -> tuple[dict[str, Industry], int]:
    """Industries by name, created where missing (seeding); returns them and how many were created."""
    rows = [{"slug": slugify(name), "defaults": {"name": name}} for name in names]
    return reference_rows_ensure(model=Industry, rows=rows, key="name", via=via)


@transaction.atomic
def case_studies_bulk_create(*, case_studies: list[dict], via: str, batch_size: int = 500) -> dict[str, int]:
    """
    The one bulk path for case studies, for seeding and benchmarks only: rows, their results and their
    services in a few bulk inserts, one audit row for the batch, the public pages retired once. Each
    dict holds the CaseStudy fields plus `results` [(metric, value)] and `services` [Service].
    """
    rows, results, links = [], [], []
    for spec in case_studies:
        spec = dict(spec)
        outcomes, services = spec.pop("results", []), spec.pop("services", [])
        case_study = CaseStudy(**spec)
        rows.append(case_study)
        results += [CaseStudyResult(case_study=case_study, metric=m, value=v) for m, v in outcomes]
        links += [CaseStudy.services.through(casestudy_id=case_study.pk, service_id=s.pk) for s in services]
    CaseStudy.objects.bulk_create(rows, batch_size=batch_size)
    CaseStudyResult.objects.bulk_create(results, batch_size=batch_size)
    CaseStudy.services.through.objects.bulk_create(links, batch_size=batch_size)
    if rows:
        audit_record(
            action="content.bulk_created",
            entity_type="content.casestudy",
            changes={"rows": len(rows), "via": via},
        )
        # Retired, not warmed: a seed of many copies would render the pages once per copy.
        transaction.on_commit(content_version_bump)
    return {"case studies": len(rows), "case study results": len(results)}


# --- The media library ---------------------------------------------------------------------------------


@dataclass
class PreparedUpload:
    """An image upload spooled to a private temporary file and checked (content.images.image_check)."""

    file: IO[bytes]
    checked: Checked
    size: int


def image_upload_prepare(upload) -> PreparedUpload:
    """
    The editor's file written to a temporary file and checked: size, kind, pixels, virus scan. Raises
    ValidationError with the reason; the form shows it on the file field.
    """
    if upload.size > settings.IMAGE_MAX_BYTES:
        raise ValidationError(
            f"The file is {upload.size / 1e6:.1f} MB; images up to {settings.IMAGE_MAX_BYTES / 1e6:.0f} MB "
            "are taken."
        )
    spool = tempfile.NamedTemporaryFile(prefix="image-", dir=settings.FILE_UPLOAD_TEMP_DIR)  # noqa: SIM115
    for chunk in upload.chunks():
        spool.write(chunk)
    spool.flush()
    try:
        checked = image_check(spool.name, upload.name or "")
    except ImageRefused as error:
        spool.close()
        raise ValidationError(str(error)) from None
    return PreparedUpload(file=spool, checked=checked, size=upload.size)


def image_save(*, image: Image, actor, prepared: PreparedUpload | None = None) -> Image:
    """
    Saves a library image (its text and focal point), with a new file when `prepared` is given: kept
    privately as sent, its renditions made by a task on commit. Audited.
    """
    created = image._state.adding
    stored = None
    if prepared is not None:
        image.kind, image.size = prepared.checked.kind, prepared.size
        image.width, image.height = prepared.checked.width, prepared.checked.height
        image.state, image.error = Image.State.PROCESSING, ""
        extension = "jpg" if prepared.checked.kind == "jpeg" else "png"
        with prepared.file:
            prepared.file.seek(0)
            stored = storages["private"].save(f"library/{image.pk}.{extension}", File(prepared.file))
        image.original = stored
    image.uploaded_by = image.uploaded_by or (actor if getattr(actor, "is_authenticated", False) else None)
    try:
        with transaction.atomic():
            image.full_clean(exclude=["original"])
            image.save()
            action = "image.uploaded" if created else "image.updated"
            audit_record(
                action=action,
                entity=image,
                actor=actor,
                changes={"alt_text": image.alt_text, "new_file": stored is not None},
            )
            if stored:
                transaction.on_commit(lambda: image_renditions_enqueue(image.pk))
            public_pages_changed()
    except Exception:
        if stored:  # nothing half-written: the file goes with the row that was not saved
            storages["private"].delete(stored)
        raise
    return image


def image_renditions_enqueue(image_id) -> bool:
    """
    Queues the renditions task. A broker that is down is logged, not raised: the image is saved either
    way, shown as "Making renditions", and the library's "Make the renditions again" action queues it.
    """
    try:
        task_delay("content.tasks.image_renditions_make", str(image_id))
    except Exception as error:  # noqa: BLE001 - the image is stored either way; the log says why
        logger.warning("Image %s stored but its renditions were not queued: %s", image_id, error)
        return False
    return True


def image_renditions_make(*, image_id) -> Image | None:
    """
    The renditions of a library image, made from its private original into the public storage; the
    image is then shown by the API (content pages retired so that they show it). A file that cannot be
    made into renditions leaves the image FAILED with the reason.
    """
    image = Image.objects.filter(pk=image_id).first()
    if image is None:  # deleted before its turn came
        return None
    public = storages["public_media"]
    old = [r["name"] for r in image.renditions]
    made = []
    try:
        with storages["private"].open(image.original, "rb") as source:
            renditions = renditions_make(source, image.kind)
        for rendition in renditions:
            name = public.save(
                f"library/{image.pk}/{rendition.width}.{rendition.format}", ContentFile(rendition.data)
            )
            made.append(
                {
                    "name": name,
                    "width": rendition.width,
                    "height": rendition.height,
                    "format": rendition.format,
                }
            )
    except (OSError, ValueError, SyntaxError) as error:
        for rendition in made:
            public.delete(rendition["name"])
        Image.objects.filter(pk=image.pk).update(
            state=Image.State.FAILED, error=f"Renditions could not be made: {error}"[:300]
        )
        return Image.objects.get(pk=image.pk)
    with transaction.atomic():
        Image.objects.filter(pk=image.pk).update(state=Image.State.READY, error="", renditions=made)
        public_pages_changed()
        transaction.on_commit(
            lambda: [public.delete(name) for name in old if name not in {m["name"] for m in made}]
        )
    return Image.objects.get(pk=image.pk)


@transaction.atomic
def image_delete(*, image: Image, actor) -> None:
    """The image, its original and its renditions; pages that showed it no longer do. Audited."""
    names = [r["name"] for r in image.renditions]
    original = image.original
    audit_record(action="image.deleted", entity=image, actor=actor, changes={"alt_text": image.alt_text})
    image.delete()
    public_pages_changed()
    public, private = storages["public_media"], storages["private"]
    transaction.on_commit(lambda: ([public.delete(name) for name in names], private.delete(original)))
