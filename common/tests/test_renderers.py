import datetime
import decimal
import uuid

from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer

from common.renderers import JSONRenderer

PAYLOAD = {
    "id": uuid.UUID("01a243c9-b330-767c-80f8-ddb08aa31f88"),
    "when": datetime.datetime(2026, 12, 5, 1, 2, 3, 456789, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 12, 5),
    "amount": decimal.Decimal("12.50"),
    "text": 'Bengaluru — ಬೆಂಗಳೂರು, \u2028 line and paragraph \u2029 separators, "quotes" </script>',
    "lazy": gettext_lazy("Not found."),
    "nested": [{"n": 1, "f": 1.5, "none": None, "yes": True}],
    1: "an integer key",
}


def test_orjson_writes_what_drfs_renderer_writes():
    # The same bytes as DRF's own renderer (its encoder still handles what orjson does not know), so
    # clients see no difference: separators, non-ASCII, U+2028/2029 escaped, dates, decimals, lazy text.
    assert JSONRenderer().render(PAYLOAD) == DRFJSONRenderer().render(PAYLOAD)


def test_an_indent_asked_for_goes_to_drfs_renderer():
    indented = JSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert indented == DRFJSONRenderer().render({"a": [1]}, "application/json; indent=2")
    assert indented.startswith(b'{\n  "a"')
