import orjson
from rest_framework import renderers
from rest_framework.utils.encoders import JSONEncoder

_default = JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    """
    DRF's JSONRenderer with orjson doing the compact case: the encoding was a large share of an
    uncached list (docs/performance.md). An `indent` (the media-type parameter, or the browsable API's
    own) goes to DRF's renderer, which honours it.
    """

    _OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if self.get_indent(accepted_media_type, renderer_context or {}) is not None:
            return super().render(data, accepted_media_type, renderer_context)
        # Whatever orjson does not know (datetimes, decimals, lazy strings...) DRF's encoder turns
        # into the same JSON as before.
        body = orjson.dumps(data, default=_default, option=self._OPTIONS)
        # As DRF does: these two are valid JSON but end a line in JavaScript.
        if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
            body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
        return body
