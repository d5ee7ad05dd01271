"""The links of LimitOffsetPagination are the ones DRF's own query-param helpers would build."""

import pytest
from django.test import RequestFactory
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from common.pagination import LimitOffsetPagination


def _drf_links(url, limit, offset, count):
    """DRF's LimitOffsetPagination links, made relative as ours are."""
    url = replace_query_param(url, "limit", limit)
    following = replace_query_param(url, "offset", offset + limit) if offset + limit < count else None
    if offset <= 0:
        previous = None
    elif offset - limit <= 0:
        previous = remove_query_param(url, "offset")
    else:
        previous = replace_query_param(url, "offset", offset - limit)
    return following, previous


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=5",
        "?limit=5&offset=7",
        "?offset=3",
        "?search=a%20b+c&limit=2&offset=4&x=&x=2",
        "?ordering=-title&limit=1000&offset=1000",
        "?a=%E2%82%AC&limit=3&offset=1",
        "?limit=3&limit=4&offset=2&offset=9",
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/items/", "/api/v1/it%C3%A9ms/a%20b/"])
@pytest.mark.parametrize("count", [0, 5, 50, 2000])
def test_links_match_drfs_helpers(path, query, count):
    request = Request(RequestFactory().get(path + query))
    paginator = LimitOffsetPagination()
    paginator.request = request
    paginator.limit = paginator.get_limit(request)
    paginator.offset = paginator.get_offset(request)
    paginator.count = count
    expected = _drf_links(request.get_full_path(), paginator.limit, paginator.offset, count)
    assert (paginator.get_next_link(), paginator.get_previous_link()) == expected
