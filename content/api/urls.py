from django.urls import path

from common.caching import public_cache

from . import views

urlpatterns = [
    path("services/", public_cache(views.ServiceListApi.as_view()), name="service-list"),
    path("services/<slug:slug>/", public_cache(views.ServiceDetailApi.as_view()), name="service-detail"),
    path("industries/", public_cache(views.IndustryListApi.as_view()), name="industry-list"),
    path("case-studies/", public_cache(views.CaseStudyListApi.as_view()), name="case-study-list"),
    path(
        "case-studies/<slug:slug>/",
        public_cache(views.CaseStudyDetailApi.as_view()),
        name="case-study-detail",
    ),
]
