from django.urls import path

from . import views

urlpatterns = [
    path("submissions/contact/", views.ContactSubmissionApi.as_view(), name="submission-contact"),
    path(
        "submissions/demo-request/",
        views.DemoRequestSubmissionApi.as_view(),
        name="submission-demo-request",
    ),
    path(
        "submissions/quote-request/",
        views.QuoteRequestSubmissionApi.as_view(),
        name="submission-quote-request",
    ),
]
