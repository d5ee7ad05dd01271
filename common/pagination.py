import re
from urllib import parse

from django.utils.encoding import escape_uri_path
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination

# ASCII digits only: int() also takes signs, spaces, underscores and other scripts' digits.
_DIGITS = re.compile(r"[0-9]{1,9}")


class LimitOffsetPagination(_LimitOffsetPagination):
    """
    limit/offset with a maximum page size. Links are relative (path and query): a cached page must not
    carry the host name of whichever request happened to fill the cache.

    A `limit` or `offset` that is not a whole number in range is a 400 naming it (DRF's own class
    falls back to the default for some and sends others to the database, where a huge offset is a
    500). A `limit` over `max_limit` is well-formed and gets the largest page, as DRF does.
    """

    default_limit = 20
    max_limit = 100
    # Deeper than any list here goes; the database reads and skips every row before the offset.
    max_offset = 10_000
    limit_query_description = f"Results per page: 1 or more (0 is a 400); over {max_limit} gets {max_limit}."
    offset_query_description = f"Index of the first result: 0 to {max_offset}; out of range is a 400."

    def get_limit(self, request):
        value = self._whole_number(request, self.limit_query_param, self.default_limit)
        if value < 1:
            raise ValidationError({self.limit_query_param: ["Must be a whole number of 1 or more."]})
        return min(value, self.max_limit)

    def get_offset(self, request):
        value = self._whole_number(request, self.offset_query_param, 0)
        if value > self.max_offset:
            raise ValidationError(
                {self.offset_query_param: [f"Must be a whole number from 0 to {self.max_offset}."]}
            )
        return value

    def _whole_number(self, request, name: str, default: int) -> int:
        if name not in request.query_params:
            return default
        raw = request.query_params[name]
        if not _DIGITS.fullmatch(raw):
            bounds = "of 1 or more" if name == self.limit_query_param else f"from 0 to {self.max_offset}"
            raise ValidationError({name: [f"Must be a whole number {bounds}."]})
        return int(raw)

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

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "default": self.default_limit},
            self.offset_query_param: {"minimum": 0, "maximum": self.max_offset, "default": 0},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds[parameter["name"]])
        return parameters

    def get_paginated_response_schema(self, schema):
        result = super().get_paginated_response_schema(schema)
        for name in ("next", "previous"):
            result["properties"][name]["format"] = "uri-reference"
            result["properties"][name]["example"] = (
                f"/api/v1/items/?limit=20&offset={40 if name == 'next' else 0}"
            )
        return result
