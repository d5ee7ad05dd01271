from django.urls import path

from . import views

urlpatterns = [
    path("locations/", views.LocationListApi.as_view(), name="location-list"),
    path("impact-stories/", views.ImpactStoryListApi.as_view(), name="impact-story-list"),
    path(
        "impact-stories/<slug:slug>/",
        views.ImpactStoryDetailApi.as_view(),
        name="impact-story-detail",
    ),
    path(
        "impact-metrics/summary/",
        views.ImpactMetricSummaryApi.as_view(),
        name="impact-metric-summary",
    ),
]
