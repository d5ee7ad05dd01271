from collections import defaultdict

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from common.models import PublishStatus

from .models import CaseStudy, CaseStudyResult, Image, Industry, Service, ServiceFeature, SlugRedirect
from .search import search

# What a case study is searched by: short fields (weighted first, and matched by trigrams too), then long.
CASE_STUDY_SEARCH = {"titles": ("title", "client"), "bodies": ("challenge", "solution")}

# The columns of a case study the public API shows, read as values: building model instances for a page
# of twenty, with their industry, results and services, cost ten times the rest of the request
# (docs/performance.md).
CASE_STUDY_COLUMNS = (
    "id",
    "title",
    "slug",
    "client",
    "challenge",
    "solution",
    "meta_title",
    "meta_description",
    "hero_image_id",
    "published_at",
)


def service_list() -> QuerySet[Service]:
    return (
        Service.objects.published()
        .select_related("icon_image")
        .prefetch_related(Prefetch("features", queryset=ServiceFeature.objects.order_by("order", "title")))
    )


def images_of(rows: list[dict], model, hero: str = "hero_image_id") -> tuple[dict, dict]:
    """
    The hero images and galleries of `rows` (dicts with an `id` and the hero's id), as {id: Image} and
    {row id: [Image]}: two queries, whatever the number of rows.
    """
    ids = [row["id"] for row in rows]
    through = model.gallery.through
    owner = f"{model._meta.model_name}_id"
    links = list(through.objects.filter(**{f"{owner}__in": ids}).values_list(owner, "image_id"))
    wanted = {row[hero] for row in rows if row[hero]} | {image_id for _, image_id in links}
    images = {image.pk: image for image in Image.objects.filter(pk__in=wanted)} if wanted else {}
    galleries = defaultdict(list)
    for owner_id, image_id in links:
        galleries[owner_id].append(images[image_id])
    for gallery in galleries.values():
        gallery.sort(key=lambda image: image.created_at)
    return images, galleries


def industry_list() -> QuerySet[Industry]:
    return Industry.objects.order_by("name")


def case_study_list() -> QuerySet:
    """
    Published case studies as rows (dicts of CASE_STUDY_COLUMNS and their industry's name and slug), in
    the model's order. case_study_relations() adds the results and services of the rows a page shows.
    """
    return CaseStudy.objects.published().values(*CASE_STUDY_COLUMNS, "industry__name", "industry__slug")


def case_study_search(queryset: QuerySet, text: str) -> QuerySet:
    """The case studies of `queryset` matching `text`, best first (content.search)."""
    return search(queryset, text, **CASE_STUDY_SEARCH)


def slug_redirect_target(model, old_slug: str) -> str | None:
    """
    The current slug of the public row of `model` that answered to `old_slug` before it was renamed, or
    None (never renamed, or no longer public).
    """
    object_id = (
        SlugRedirect.objects.filter(model=model._meta.label_lower, old_slug=old_slug)
        .values_list("object_id", flat=True)
        .first()
    )
    if object_id is None:
        return None
    return model.objects.published().filter(pk=object_id).values_list("slug", flat=True).first()


def case_study_relations(rows: list[dict]) -> list[dict]:
    """
    The rows of case_study_list() with what hangs off each: `industry`, `results` and the public
    `services`, as dicts of the related rows' values, and the `hero_image` and `gallery` as Images. Four
    queries, whatever the number of rows.
    """
    if not rows:  # past the last page: nothing to ask the database
        return rows
    ids = [row["id"] for row in rows]
    results = defaultdict(list)
    for case_study_id, metric, value, description in (
        CaseStudyResult.objects.filter(case_study_id__in=ids)
        .order_by("order", "created_at")
        .values_list("case_study_id", "metric", "value", "description")
    ):
        results[case_study_id].append({"metric": metric, "value": value, "description": description})
    services = defaultdict(list)
    now = timezone.now()
    for case_study_id, name, slug, icon in (
        # A case study must never reveal a service that is not public itself: the conditions of
        # PublishableQuerySet.published(), on the join.
        CaseStudy.services.through.objects.filter(
            Q(service__expires_at__isnull=True) | Q(service__expires_at__gt=now),
            casestudy_id__in=ids,
            service__deleted_at__isnull=True,
            service__status=PublishStatus.PUBLISHED,
            service__published_at__lte=now,
        )
        .order_by("service__order", "service__name")
        .values_list("casestudy_id", "service__name", "service__slug", "service__icon")
    ):
        services[case_study_id].append({"name": name, "slug": slug, "icon": icon})
    images, galleries = images_of(rows, CaseStudy)
    return [
        {
            **row,
            "industry": {"name": row["industry__name"], "slug": row["industry__slug"]},
            "results": results[row["id"]],
            "services": services[row["id"]],
            "hero_image": images.get(row["hero_image_id"]),
            "gallery": galleries[row["id"]],
        }
        for row in rows
    ]
