import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from uploads.models import FileAnalysis, FileUpload

pytestmark = pytest.mark.django_db


def test_one_analysis_per_upload():
    upload = FileUpload.objects.create(user=UserFactory(), filename="a.csv")
    FileAnalysis.objects.create(upload=upload, summary="first")
    with pytest.raises(IntegrityError), transaction.atomic():
        FileAnalysis.objects.create(upload=upload, summary="second")
    assert FileAnalysis.objects.filter(upload=upload).count() == 1


def test_details_property_loads_the_json_document_from_private_storage():
    upload = FileUpload.objects.create(user=UserFactory(), filename="a.csv")
    path = storages["private"].save(f"analysis/{upload.pk}.json", ContentFile(json.dumps({"rows": 3})))
    analysis = FileAnalysis.objects.create(upload=upload, summary="3 rows", details_path=path)
    assert FileAnalysis.objects.get(pk=analysis.pk).details == {"rows": 3}
    assert FileAnalysis(upload=upload, summary="").details == {}
