import smtplib
from dataclasses import dataclass

import pytest
from django.core.mail.backends.locmem import EmailBackend


@dataclass
class MailFailure:
    error: Exception
    calls: int = 0


@pytest.fixture
def failing_mail(monkeypatch, settings):
    """Every e-mail send raises `failing_mail.error` (the SMTP server hung up); `calls` counts tries."""
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.locmem.EmailBackend"
    failure = MailFailure(error=smtplib.SMTPServerDisconnected("Connection unexpectedly closed"))

    def send_messages(backend, messages):
        failure.calls += 1
        raise failure.error

    monkeypatch.setattr(EmailBackend, "send_messages", send_messages)
    return failure


@pytest.fixture
def published_services():
    from content.tests.factories import ServiceFactory

    return [
        ServiceFactory(slug="data-annotation", name="Data annotation"),
        ServiceFactory(slug="data-collection", name="Data collection"),
    ]
