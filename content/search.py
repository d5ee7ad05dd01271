"""
Search over the public content, for the public API and the admin alike. On PostgreSQL: full-text search
(English stemming, so "labelling" finds "labelled"), ranked, with titles weighted above bodies, plus
trigram word similarity over the title and client with punctuation removed, for near misses and
spellings without a hyphen ("xray" finds "X-rays"). Both conditions are served by GIN indexes
(content and impact migrations). Elsewhere (SQLite, embedded mode) every word must appear in a field,
as typed or with the field's hyphens dropped; results keep the list's order.
"""

import re

from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector, TrigramWordSimilarity
from django.db import connections, router
from django.db.models import F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Replace

SEARCH_CONFIG = "english"
MAX_WORDS = 8
_PUNCTUATION = re.compile(r"[^\w\s]")


class Unpunctuated(Func):
    """The text without punctuation: "X-rays" becomes "Xrays", which trigrams compare with "xray"."""

    function = "regexp_replace"
    output_field = TextField()

    def __init__(self, expression):
        super().__init__(expression, Value(r"[^[:alnum:][:space:]]"), Value(""), Value("g"))


def search_vector(titles: tuple[str, ...], bodies: tuple[str, ...]) -> SearchVector:
    """The document a row is searched as; its GIN index is built from the very same expression."""
    return SearchVector(*titles, weight="A", config=SEARCH_CONFIG) + SearchVector(
        *bodies, weight="B", config=SEARCH_CONFIG
    )


def words(text: str) -> list[str]:
    return text.split()[:MAX_WORDS]


def search(queryset: QuerySet, text: str, *, titles: tuple[str, ...], bodies: tuple[str, ...]) -> QuerySet:
    """
    The rows of `queryset` that match `text`, best first on PostgreSQL (then in the queryset's own
    order). `titles` are the short fields (weighted first, and compared by trigrams), `bodies` the long.
    """
    text = " ".join(words(text))
    if not text:
        return queryset
    if connections[router.db_for_read(queryset.model)].vendor != "postgresql":
        return _search_plain(queryset, text, titles + bodies)
    query = SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)
    near = _PUNCTUATION.sub("", text)
    document = search_vector(titles, bodies)
    matches = Q(document=query)
    # `title %> 'xray'`: word similarity at pg_trgm's threshold (0.6), on the expression the index holds.
    for field in titles:
        matches |= Q(TrigramWordSimilar(Unpunctuated(F(field)), Value(near)))
    rank = SearchRank(document, query)
    for field in titles:
        rank += TrigramWordSimilarity(Value(near), Unpunctuated(F(field)))
    ordering = [F("search_rank").desc(), *(queryset.query.order_by or queryset.model._meta.ordering)]
    return queryset.alias(document=document).filter(matches).alias(search_rank=rank).order_by(*ordering)


def _search_plain(queryset: QuerySet, text: str, fields: tuple[str, ...]) -> QuerySet:
    """Every word in one of the fields, as typed or with hyphens dropped from the field ("xray", "X-ray")."""
    squeezed = {
        f"search_{field}": Replace(F(field), Value("-"), Value(""), output_field=TextField())
        for field in fields
    }
    query = Q()
    for word in words(text):
        query &= Q.create([(f"{name}__icontains", word) for name in (*fields, *squeezed)], connector=Q.OR)
    return queryset.alias(**squeezed).filter(query)
