"""
Real-browser tests of the admin: Playwright driving Debian's Chromium against pytest-django's live
server. One browser per session, a fresh context per test, and a full-page screenshot of the last page
of every browser test in test-artifacts/screenshots/, pass or fail.

Playwright's own browser downloads (`playwright install`) are not used: they cannot be fetched on the
project's machines. Debian's package is: `apt-get install chromium`.
"""

import json
import os
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# Long enough for a cold admin page on a 2-core machine, short enough that a wrong selector fails fast.
TIMEOUT_MS = 10_000
DEFAULT_PASSWORD = "correct-horse-battery"
# The admin's width in every browser test: a laptop's.
WIDTH = 1280


@pytest.fixture(scope="session")
def _playwright():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"browser test: no Chromium at {CHROMIUM} (install Debian's chromium: apt-get install chromium)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser test: pip install playwright")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(_playwright):
    browser = _playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(request, browser, live_server):
    """A page in a fresh context (no cookies) whose relative URLs go to the live server."""
    if not request.node.get_closest_marker("browser"):
        raise pytest.UsageError(f"{request.node.nodeid} uses `page` but is not marked @pytest.mark.browser")
    # An editor's browser in the editors' time zone, as in India: the admin's date widgets then show no
    # "you are 5.5 hours behind server time" note, which only a browser elsewhere should see.
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": WIDTH, "height": 900},
        timezone_id=settings.EDITOR_TIME_ZONE,
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.live_server_url = live_server.url  # for api_json, which reads as a visitor without cookies
    yield page
    context.close()


def admin_login(page, user, password: str = DEFAULT_PASSWORD) -> None:
    """Logs in through the admin's own form and waits until the admin index has loaded."""
    page.goto("/admin/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("input[type=submit], button[type=submit]")
    if "/admin/login/" in page.url:
        raise AssertionError(f"admin log-in failed for {user.email}: {page.inner_text('body')[:500]}")


def pytest_collection_modifyitems(items):
    # Once Playwright has started, its event loop stays in the test thread until the session ends, and
    # Django refuses ORM calls beside a running loop; so browser tests run last (order kept otherwise).
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """
    DJANGO_ALLOW_ASYNC_UNSAFE=true for browser tests only, restored after each. Playwright's sync API
    keeps an event loop in the test thread, so Django's async-safety check would refuse every ORM call
    the test makes although the test is plain synchronous code. Set around the whole protocol, not in a
    fixture: the live server's database flush runs in teardown after any test fixture has finished.
    """
    if not item.get_closest_marker("browser"):
        return (yield)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        return (yield)
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        page = getattr(item, "funcargs", {}).get("page")
        if page is not None and not page.is_closed():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', item.name)}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                report.sections.append(("screenshot", f"{path} ({page.url})"))
            except Exception as error:  # a screenshot must never hide the test's own outcome
                report.sections.append(("screenshot", f"not saved: {error!r}"))
    return report


def _document_width(page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def page_fits(page) -> None:
    """
    No horizontal scroll at 1280 px: the whole form or list is in view, the page itself and the boxes
    that scroll on their own (a changelist's table scrolls inside `.results` rather than the page).
    """
    assert _document_width(page) <= WIDTH, f"{page.url} is {_document_width(page)} px wide at {WIDTH} px"
    clipped = page.evaluate(
        """() => [...document.querySelectorAll('#content .results, #content .tabular, #content fieldset')]
            .filter(box => box.scrollWidth > box.clientWidth + 1)
            .map(box => `${box.className || box.tagName}: ${box.scrollWidth} > ${box.clientWidth}`)"""
    )
    assert clipped == [], f"{page.url} scrolls sideways inside: {clipped}"
    # Every page checked is kept as a picture too, named after its path (with ids as "id").
    name = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}|\b\d+\b", "id", urlsplit(page.url).path).strip("/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SCREENSHOTS / f"page-{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"), full_page=True
    )


def admin_action(page, action: str, *pks) -> None:
    """Ticks the rows of a changelist, picks the admin action and presses Go."""
    for pk in pks:
        page.check(f"input[name=_selected_action][value='{pk}']")
    page.select_option("select[name=action]", action)
    with page.expect_navigation():
        page.click("button[name=index]")


def api_json(page, path: str) -> dict:
    """
    A public API GET to the live server as the site's visitors make it: without the admin's cookies, so
    it is answered by the public cache when the page is stored there (common/caching.py).
    """
    request = urllib.request.Request(page.live_server_url + path, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        assert response.status == 200, f"GET {path}: {response.status}"
        return json.load(response)
