import factory

from common.crypto import email_blind_index
from submissions.models import FormSubmission, FormType, SubmissionStatus


class FormSubmissionFactory(factory.django.DjangoModelFactory):
    """A stored contact form, as the service writes it (no audit row, nothing queued)."""

    class Meta:
        model = FormSubmission

    form_type = FormType.CONTACT
    status = SubmissionStatus.SUBMITTED
    data = factory.Sequence(
        lambda n: {"name": f"Visitor {n}", "email": f"visitor{n}@example.com", "message": "Hello."}
    )
    email_hash = factory.LazyAttribute(lambda o: email_blind_index(o.data.get("email", "")))
