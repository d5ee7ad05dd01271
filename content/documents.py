"""
The read model of the case-study list.

Each case study keeps its public JSON, rendered by the API's own serializer (one source of truth), in
`CaseStudy.api_document`; a page of the list is those texts spliced together, read with one SQL
statement and never parsed again. Measured on the project's 2-core machine (docs/performance.md), an
ORM page over four tables with nested serialization served 0.04x a bare JsonResponse.

A document shows the linked services that were public when it was rendered. What changes that without
a write to the case study is covered twice: every write to a model a document shows refreshes the
documents concerned inside the same transaction (signals below), and a linked service scheduled for
later sets `api_document_expires_at`, after which the next read renders the document again. Bulk
writes that send no signals call case_study_documents_refresh() themselves.
"""

import functools
import json
import logging
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Min, Prefetch
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.utils import timezone

from common.models import PublishStatus

from .models import CaseStudy, CaseStudyResult, Industry, Service

logger = logging.getLogger(__name__)

# ordering parameter -> ORDER BY clause; the same choices as CaseStudyFilterSet.
FAST_ORDERINGS = {
    None: "published_at DESC, title ASC",
    "published_at": "published_at ASC, title ASC",
    "-published_at": "published_at DESC, title ASC",
    "title": "title ASC",
    "-title": "title DESC",
}
COLUMNS = ("pk", "api_document", "api_document_expires_at")


def case_study_documents_refresh(*, ids=None, missing_only: bool = False, batch_size: int = 500) -> int:
    """Renders and stores the documents of the given case studies (all when ids is None)."""
    from .api.serializers import CaseStudySerializer

    now = timezone.now()
    public_services = Service.objects.published(at=now).order_by("order", "name")
    queryset = CaseStudy.all_objects.select_related("industry").prefetch_related(
        "results", Prefetch("services", queryset=public_services)
    )
    if ids is not None:
        queryset = queryset.filter(pk__in=list(ids))
    if missing_only:
        queryset = queryset.filter(api_document="")
    batch, done = [], 0
    for case_study in queryset.iterator(chunk_size=batch_size):
        case_study.api_document = json.dumps(CaseStudySerializer(case_study).data, separators=(",", ":"))
        batch.append(case_study)
        if len(batch) >= batch_size:
            done += _store(batch, now)
            batch = []
    return done + (_store(batch, now) if batch else 0)


def _store(batch: list[CaseStudy], now: datetime) -> int:
    scheduled = dict(
        CaseStudy.services.through.objects.filter(
            casestudy_id__in=[case_study.pk for case_study in batch],
            service__deleted_at__isnull=True,
            service__status=PublishStatus.PUBLISHED,
            service__published_at__gt=now,
        )
        .values("casestudy_id")
        .annotate(first=Min("service__published_at"))
        .values_list("casestudy_id", "first")
    )
    for case_study in batch:
        case_study.api_document_expires_at = scheduled.get(case_study.pk)
    return CaseStudy.all_objects.bulk_update(batch, ["api_document", "api_document_expires_at"])


def current_documents(rows, *, now: datetime | None = None) -> list[str]:
    """
    The document texts of (id, document, expires_at) rows, rendering first any that a bulk write left
    out or that the clock has made stale.
    """
    now = now or timezone.now()
    return _current(
        (pk if not document or (expires_at and expires_at <= now) else None, document)
        for pk, document, expires_at in rows
    )


def _current(rows) -> list[str]:
    """The texts of (id if stale else None, document) rows, the stale ones rendered again first."""
    rows = list(rows)
    stale = [pk for pk, _ in rows if pk is not None]
    if not stale:
        return [document for _, document in rows]
    logger.info("Rendering %d case-study documents again (missing or past a scheduled change)", len(stale))
    case_study_documents_refresh(ids=stale)
    fresh = dict(CaseStudy.all_objects.filter(pk__in=stale).values_list("pk", "api_document"))
    to_pk = CaseStudy._meta.pk.to_python
    return [document if pk is None else fresh.get(to_pk(pk), document) for pk, document in rows]


def case_study_page(*, ordering: str | None, limit: int, offset: int) -> tuple[int, list[str]]:
    """
    A page of the unfiltered public list and the total, in one statement. The conditions are those of
    PublishableQuerySet.published().
    """
    now = timezone.now()
    db = connections[DEFAULT_DB_ALIAS]  # looked up once: each `connection.x` goes through a thread-local
    at = db.ops.adapt_datetimefield_value(now)
    with _prepared_cursor(db) as cursor:
        cursor.execute(_page_sql(ordering), [at, at, at, limit, offset])
        rows = cursor.fetchall()
    # Past the last page there is no row to carry the total.
    count = rows[0][2] if rows else CaseStudy.objects.published(at=now).count()
    return count, _current((stale_pk, document) for stale_pk, document, _ in rows)


@functools.cache
def _page_sql(ordering: str | None) -> str:
    table = CaseStudy._meta.db_table
    # The status is written in, not bound: PostgreSQL can use the partial index of public rows only
    # when the statement itself proves `status = 'published'`, and only a plan that uses it is cheap
    # enough for the prepared statement to keep one plan instead of planning every execution again.
    public = (
        f"deleted_at IS NULL AND status = '{PublishStatus.PUBLISHED}' "
        "AND published_at IS NOT NULL AND published_at <= %s"
    )
    # The total is a scalar subquery, not COUNT(*) OVER (): a window would carry every public row,
    # document and all, through the executor to count them; the subquery counts index entries. The
    # database also says which documents are stale, so fresh rows send no id or time to be parsed.
    return (
        "SELECT CASE WHEN api_document = '' OR api_document_expires_at <= %s THEN id END, "  # noqa: S608
        f"api_document, (SELECT COUNT(*) FROM {table} WHERE {public}) "
        f"FROM {table} WHERE {public} ORDER BY {FAST_ORDERINGS[ordering]} LIMIT %s OFFSET %s"
    )


def _prepared_cursor(db):
    """
    On PostgreSQL a cursor whose statements are parsed and planned once per connection; elsewhere
    Django's own.

    Django's psycopg cursors bind parameters client-side, so the server parses and plans every
    execution again: for the page statement that was 0.24 ms of planning against 0.11 ms of running
    it (EXPLAIN ANALYZE on the benchmark data, docs/performance.md). A pooled connection keeps its
    prepared statements from one request to the next; psycopg prepares again on a new connection or
    after a rollback. Preparing needs `prepare_threshold` in the connection options
    (settings.database_config); without it psycopg binds server-side and prepares nothing.
    """
    if db.vendor != "postgresql":
        return db.cursor()
    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        cursor = _prepared_cursor_class()(db.connection)
    # Wrapped as Django wraps its own, so the statement is logged and counted like any other.
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


@functools.cache
def _prepared_cursor_class():
    import psycopg  # PostgreSQL only: the embedded mode need not load it

    class PreparedCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

        def _convert_query(self, query, params=None):
            # Kept where Django's query log looks for the statement (as psycopg's ClientCursor does).
            self._query = super()._convert_query(query, params)
            return self._query

    return PreparedCursor


def page_json(*, count: int, next_link: str | None, previous_link: str | None, documents: list[str]) -> bytes:
    """The paginated body, with the stored documents spliced in as they are."""
    head = json.dumps({"count": count, "next": next_link, "previous": previous_link})[:-1]
    return f'{head},"results":[{",".join(documents)}]}}'.encode()


# --- Keeping documents current --------------------------------------------------------------------


def _refresh(ids) -> None:
    ids = [pk for pk in ids if pk is not None]
    if ids:
        case_study_documents_refresh(ids=ids)


def _linked(service_ids) -> list:
    return list(
        CaseStudy.services.through.objects.filter(service_id__in=service_ids).values_list(
            "casestudy_id", flat=True
        )
    )


def _on_case_study_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _refresh([instance.pk])


def _on_result_changed(sender, instance, raw=False, **kwargs):
    if not raw:
        _refresh([instance.case_study_id])


def _on_industry_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _refresh(instance.case_studies.values_list("pk", flat=True))


def _on_service_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        _refresh(_linked([instance.pk]))


def _on_service_deleting(sender, instance, **kwargs):
    # The links go with the service; remember whom to refresh before they do.
    instance._document_ids = _linked([instance.pk])


def _on_service_deleted(sender, instance, **kwargs):
    _refresh(getattr(instance, "_document_ids", []))


def _on_services_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action == "pre_clear":
        instance._document_ids = [instance.pk] if not reverse else _linked([instance.pk])
    elif action == "post_clear":
        _refresh(getattr(instance, "_document_ids", []))
    elif action in ("post_add", "post_remove"):
        _refresh((pk_set or []) if reverse else [instance.pk])


def on_migrate(sender, **kwargs):
    # Rows that predate the columns, or that a bulk path left out: render them once.
    case_study_documents_refresh(missing_only=True)


def connect() -> None:
    uid = "content.documents"
    post_save.connect(_on_case_study_saved, sender=CaseStudy, dispatch_uid=f"{uid}:cs")
    post_save.connect(_on_result_changed, sender=CaseStudyResult, dispatch_uid=f"{uid}:result-save")
    post_delete.connect(_on_result_changed, sender=CaseStudyResult, dispatch_uid=f"{uid}:result-delete")
    post_save.connect(_on_industry_saved, sender=Industry, dispatch_uid=f"{uid}:industry")
    post_save.connect(_on_service_saved, sender=Service, dispatch_uid=f"{uid}:service-save")
    pre_delete.connect(_on_service_deleting, sender=Service, dispatch_uid=f"{uid}:service-pre-delete")
    post_delete.connect(_on_service_deleted, sender=Service, dispatch_uid=f"{uid}:service-delete")
    m2m_changed.connect(_on_services_changed, sender=CaseStudy.services.through, dispatch_uid=f"{uid}:m2m")
