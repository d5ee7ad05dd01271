from django.urls import path

from . import views

urlpatterns = [
    path("services/", views.ServiceListApi.as_view(), name="service-list"),
    path("services/<slug:slug>/", views.ServiceDetailApi.as_view(), name="service-detail"),
    path("industries/", views.IndustryListApi.as_view(), name="industry-list"),
    path("case-studies/", views.CaseStudyListApi.as_view(), name="case-study-list"),
    path(
        "case-studies/<slug:slug>/",
        views.CaseStudyDetailApi.as_view(),
        name="case-study-detail",
    ),
]
