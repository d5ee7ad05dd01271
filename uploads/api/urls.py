from django.urls import path

from . import views

urlpatterns = [
    path("uploads/", views.UploadListCreateApi.as_view(), name="upload-list"),
    path("uploads/<uuid:upload_id>/", views.UploadDetailApi.as_view(), name="upload-detail"),
    path("uploads/<uuid:upload_id>/analysis/", views.UploadAnalysisApi.as_view(), name="upload-analysis"),
]
