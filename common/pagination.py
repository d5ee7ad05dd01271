from urllib import parse

from django.utils.encoding import escape_uri_path
from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination


class LimitOffsetPagination(_LimitOffsetPagination):
    """
    limit/offset with a maximum page size. Links are relative (path and query): a cached page must not
    carry the host name of whichever request happened to fill the cache.
    """

    default_limit = 20
    max_limit = 100

    def get_next_link(self):
        if self.offset + self.limit >= self.count:
            return None
        return self._link(self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        return self._link(max(self.offset - self.limit, 0))

    def _link(self, offset: int) -> str:
        # DRF's replace_query_param/remove_query_param, applied in one pass instead of two per link,
        # and from the query the request has already parsed: the same sorted, re-encoded query, and no
        # offset for the first page.
        params = dict(self.request.query_params.lists())
        params[self.limit_query_param] = [str(self.limit)]
        if offset:
            params[self.offset_query_param] = [str(offset)]
        else:
            params.pop(self.offset_query_param, None)
        query = parse.urlencode(sorted(params.items()), doseq=True)
        return f"{escape_uri_path(self.request.path)}?{query}"

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        for name in ("next", "previous"):
            result["properties"][name]["format"] = "uri-reference"
            result["properties"][name]["example"] = (
                f"/api/v1/items/?limit=20&offset={40 if name == 'next' else 0}"
            )
        return result
