"""A signed-in browser for API tests: the session the browsable API uses, with CSRF enforced."""

from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery"  # UserFactory's


def browser_session(email: str) -> tuple[APIClient, dict]:
    """
    Signs in on the browsable API's log-in form (a CSRF-protected form that starts a session) and
    returns the client with the headers a browser's script sends on each unsafe request.
    """
    client = APIClient(enforce_csrf_checks=True)
    client.get("/api/auth/login/")
    form = {"username": email, "password": PASSWORD, "csrfmiddlewaretoken": client.cookies["csrftoken"].value}
    response = client.post("/api/auth/login/", form, format="multipart")
    assert response.status_code == 302, "the session log-in failed"
    # The log-in rotates the CSRF token: the header carries the new cookie's value.
    return client, {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}
