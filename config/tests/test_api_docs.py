"""Swagger UI (/api/docs/) is served from the project's own static files: it renders without internet."""

import re
from urllib.parse import urlparse

import pytest

from content.tests.factories import IndustryFactory

EXTERNAL = re.compile(r"""(?:src|href)=["'](https?:)?//""")


@pytest.mark.django_db
def test_api_docs_html_references_no_external_host(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert "cdn.jsdelivr.net" not in html


@pytest.mark.browser
def test_swagger_ui_renders_operations_with_every_outside_request_aborted(page, live_server):
    IndustryFactory()
    outside = []

    def only_local(route):
        host = urlparse(route.request.url).hostname
        if host in ("localhost", "127.0.0.1"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto("/api/docs/")

    page.locator(".opblock-summary").first.wait_for(state="visible")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/industries/").count() >= 1
    assert outside == []
