from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from .forms import UserPasswordForm, password_actor
from .models import PREFERENCE_FLAGS, User
from .selectors import users_with_preference
from .services import user_admin_update, user_create


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name", "role"]


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    email = forms.EmailField(help_text="The log-in name. Letter case does not matter.")


class PreferenceFilter(admin.SimpleListFilter):
    """Users by an on/off preference, through the selector the digest uses (its GIN index on PostgreSQL)."""

    title = "preference"
    parameter_name = "preference"

    def lookups(self, request, model_admin):
        return [
            (f"{flag}:{state}", f"{flag.replace('_', ' ').capitalize()}: {state}")
            for flag in PREFERENCE_FLAGS
            for state in ("on", "off")
        ]

    def queryset(self, request, queryset):
        flag, _, state = (self.value() or "").partition(":")
        if flag not in PREFERENCE_FLAGS or state not in ("on", "off"):
            return queryset
        return users_with_preference(flag, enabled=state == "on", users=queryset)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """
    The role is the one switch: is_staff, is_superuser and the Editors group follow it. Role changes and
    (de)activation go through audited services; the phone number is shown decrypted to admins only,
    since only admins reach this page.
    """

    form = UserEditForm
    add_form = UserCreateForm
    change_password_form = UserPasswordForm
    ordering = ["email"]
    list_display = ["email", "name", "company", "role", "is_active", "last_login"]
    list_filter = ["role", "is_active", "legal_hold", PreferenceFilter]
    search_fields = ["email", "name", "company"]
    readonly_fields = ["is_staff", "is_superuser", "last_login", "created_at", "anonymized_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["name", "company", "phone", "country", "preferences"]}),
        (
            "Access",
            {
                "fields": ["role", "is_active", "is_staff", "is_superuser", "legal_hold"],
                "description": "The role decides access: staff status and groups follow it.",
            },
        ),
        ("Dates", {"fields": ["last_login", "created_at", "anonymized_at"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "name", "role", "usable_password", "password1", "password2"],
            },
        )
    ]
    filter_horizontal = []

    def save_model(self, request, obj, form, change):
        if change:
            user_admin_update(user=obj, actor=request.user, changed=form.changed_data)
            return
        password = (
            form.cleaned_data.get("password1") if form.cleaned_data.get("usable_password", True) else None
        )
        created = user_create(
            email=obj.email, password=password, name=obj.name, role=obj.role, actor=request.user
        )
        # The admin goes on with `obj` (messages, redirect): make it the row just created.
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db

    def user_change_password(self, request, id, form_url=""):
        # UserPasswordForm saves through user_password_set, which records the acting admin.
        token = password_actor.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            password_actor.reset(token)

    def save_related(self, request, form, formsets, change):
        # Groups and permissions follow the role (accounts.roles.role_apply); nothing to save.
        pass

    def has_delete_permission(self, request, obj=None):
        # A user goes only by erasure (compliance.admin's action): a plain delete would leave their files in
        # storage, their visitor submissions in the database and no ErasureRecord to replay.
        return False
