from django.urls import path

from common.caching import public_cache

from . import views

urlpatterns = [
    path("locations/", public_cache(views.LocationListApi.as_view()), name="location-list"),
    path("impact-stories/", public_cache(views.ImpactStoryListApi.as_view()), name="impact-story-list"),
    path(
        "impact-stories/<slug:slug>/",
        public_cache(views.ImpactStoryDetailApi.as_view()),
        name="impact-story-detail",
    ),
    path(
        "impact-metrics/summary/",
        public_cache(views.ImpactMetricSummaryApi.as_view()),
        name="impact-metric-summary",
    ),
]
