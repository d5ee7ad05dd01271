from django.contrib import admin
from django.urls import path

from ops.views import healthz

admin.site.site_header = "IndiVillage administration"
admin.site.site_title = "IndiVillage admin"
admin.site.index_title = "Content, impact and operations"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
]
