from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "name", "company", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "legal_hold"]
    search_fields = ["email", "name", "company"]
    readonly_fields = ["is_staff", "is_superuser", "last_login", "created_at", "anonymized_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "company", "phone", "country", "preferences"]}),
        ("Access", {"fields": ["role", "is_active", "is_staff", "is_superuser", "legal_hold"]}),
        ("Dates", {"fields": ["last_login", "created_at", "anonymized_at"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "role", "password1", "password2"]})]
    filter_horizontal = []
