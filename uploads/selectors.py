from django.db.models import QuerySet
from django.http import Http404

from .models import FileUpload


def upload_list(*, user) -> QuerySet[FileUpload]:
    return FileUpload.objects.filter(user=user).select_related("analysis").order_by("-created_at")


def upload_get(*, user, upload_id) -> FileUpload:
    """The user's own upload; anyone else's is as absent as one that never existed (404, not 403)."""
    upload = upload_list(user=user).filter(pk=upload_id).first()
    if upload is None:
        raise Http404
    return upload
