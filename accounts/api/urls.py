from django.urls import path

from .views import (
    LoginApi,
    LogoutAllApi,
    LogoutApi,
    RegisterApi,
    UnsubscribeApi,
    VerifyEmailApi,
    VerifyEmailResendApi,
)

urlpatterns = [
    path("auth/register/", RegisterApi.as_view(), name="auth-register"),
    path("auth/verify-email/", VerifyEmailApi.as_view(), name="auth-verify-email"),
    path("auth/verify-email/resend/", VerifyEmailResendApi.as_view(), name="auth-verify-email-resend"),
    path("auth/login/", LoginApi.as_view(), name="auth-login"),
    path("auth/logout/", LogoutApi.as_view(), name="auth-logout"),
    path("auth/logout-all/", LogoutAllApi.as_view(), name="auth-logout-all"),
    path("auth/unsubscribe/", UnsubscribeApi.as_view(), name="auth-unsubscribe"),
]
