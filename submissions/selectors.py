from .models import FormSubmission


def submission_get_by_idempotency_key(
    *, form_type: str, scope: str, idempotency_key: str
) -> FormSubmission | None:
    return FormSubmission.objects.filter(
        form_type=form_type, idempotency_scope=scope, idempotency_key=idempotency_key
    ).first()
