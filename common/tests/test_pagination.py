"""The links of LimitOffsetPagination are the ones DRF's own query-param helpers would build."""

from urllib import parse

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


# --- Bad limit/offset values: a 400 naming the parameter on every list, never a 500 ----------------

# The deepest offset the API serves (LimitOffsetPagination.max_offset).
MAX_OFFSET = 10_000
LISTS = [
    "/api/v1/services/",
    "/api/v1/industries/",
    "/api/v1/case-studies/",  # the default listing's fast path (content.documents)
    "/api/v1/case-studies/?ordering=-published_at&search=a",  # the FilterSet path
    "/api/v1/locations/",
    "/api/v1/impact-stories/",
    "/api/v1/uploads/",
]
BAD = [
    ("offset", "9223372036854775808"),  # one past PostgreSQL's and SQLite's bigint
    ("offset", "99999999999999999999999"),
    ("offset", str(MAX_OFFSET + 1)),
    ("offset", "-1"),
    ("offset", "abc"),
    ("offset", "1.5"),
    ("offset", ""),
    ("offset", "\u0665"),  # an Arabic-Indic five: int() takes it, the API does not
    ("limit", "abc"),
    ("limit", "0"),
    ("limit", "-5"),
    ("limit", "9223372036854775808"),
    ("limit", "1e3"),
]


@pytest.fixture
def one_of_each(db, api_client):
    """A row in every list, and a user whose upload list is theirs."""
    from accounts.tests.factories import UserFactory
    from content.tests.factories import CaseStudyFactory, ServiceFactory
    from impact.tests.factories import ImpactStoryFactory

    ServiceFactory()
    CaseStudyFactory()
    ImpactStoryFactory()
    api_client.force_authenticate(UserFactory())
    return api_client


def _join(url, query):
    return f"{url}{'&' if '?' in url else '?'}{query}"


@pytest.mark.parametrize(("name", "value"), BAD)
@pytest.mark.parametrize("url", LISTS)
def test_a_bad_limit_or_offset_is_a_400_naming_it(one_of_each, url, name, value):
    response = one_of_each.get(_join(url, parse.urlencode({name: value})))
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == [name]
    assert error["fields"][name][0].startswith("Must be a whole number")


@pytest.mark.parametrize("url", LISTS)
def test_good_values_still_page(one_of_each, url):
    deepest = one_of_each.get(_join(url, f"offset={MAX_OFFSET}"))
    assert deepest.status_code == 200
    assert deepest.json()["results"] == [] and deepest.json()["count"] >= 0
    # Over the maximum page size is not an error: the page is the largest one (documented).
    widest = one_of_each.get(_join(url, "limit=100000&offset=0"))
    assert widest.status_code == 200
    assert widest.json()["next"] is None


def test_the_schema_documents_the_bounds(db, api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/services/"]["get"]["parameters"]}
    assert parameters["limit"]["schema"] == {"type": "integer", "minimum": 1, "default": 20}
    assert parameters["offset"]["schema"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_OFFSET,
        "default": 0,
    }
    assert "400" in parameters["offset"]["description"]
