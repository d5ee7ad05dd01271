"""The API's JSON parser: every body it cannot turn into data is a 400, never a 500."""

from rest_framework import parsers
from rest_framework.exceptions import ParseError


def json_depth_exceeds(data, limit: int) -> bool:
    """True when lists and objects nest deeper than `limit` (a scalar is depth 0). No recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    """
    DRF's JSONParser, with two more refusals. Python's decoder raises RecursionError, not ValueError,
    on a few kilobytes of `[[[…` (DRF lets it through: a 500). And a document that does decode but
    nests deeper than `max_depth` is refused too: nothing the API takes nests more than a few levels,
    and a value just under the recursion limit fails later, in validation, storage or rendering, where
    the call stack has less room left.
    """

    max_depth = 32

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        if json_depth_exceeds(data, self.max_depth):
            raise ParseError(f"JSON parse error - nested more than {self.max_depth} levels deep.")
        return data
