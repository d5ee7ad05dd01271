from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination
from rest_framework.utils.urls import remove_query_param, replace_query_param


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
        url = replace_query_param(self.request.get_full_path(), self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_previous_link(self):
        if self.offset <= 0:
            return None
        url = replace_query_param(self.request.get_full_path(), self.limit_query_param, self.limit)
        if self.offset - self.limit <= 0:
            return remove_query_param(url, self.offset_query_param)
        return replace_query_param(url, self.offset_query_param, self.offset - self.limit)

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        for name in ("next", "previous"):
            result["properties"][name]["format"] = "uri-reference"
            result["properties"][name]["example"] = (
                f"/api/v1/items/?limit=20&offset={40 if name == 'next' else 0}"
            )
        return result
