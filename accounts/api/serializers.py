from collections.abc import Mapping

from django.core.validators import RegexValidator
from django_countries import countries
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import THEMES, Role
from accounts.selectors import user_preferences

PASSWORD_MAX_LENGTH = 128
phone_validator = RegexValidator(
    r"^\+?[0-9 ()./-]{3,31}$", "Enter a phone number: digits, spaces and + ( ) . / - only."
)


# Refuses keys it does not know instead of dropping them, so a client that tries to set `role` or
# `email` learns that it cannot. The schema says so too (additionalProperties: false). A comment, not a
# docstring: drf-spectacular would publish a docstring as every subclass's description.
class StrictInputSerializer(serializers.Serializer):
    # The browsable API's HTML forms add this one.
    ignored_keys = frozenset({"csrfmiddlewaretoken"})
    read_only_keys: frozenset = frozenset()

    def to_internal_value(self, data):
        if not isinstance(data, Mapping) and self.parent is not None:
            # Nested: the error belongs to the field itself ("preferences"), not to a sub-key of it.
            message = self.error_messages["invalid"].format(datatype=type(data).__name__)
            raise serializers.ValidationError([message], code="invalid")
        unknown = {}
        if isinstance(data, Mapping):
            for key in sorted(set(data) - set(self.fields) - self.ignored_keys, key=str):
                message = "This field is read-only." if key in self.read_only_keys else "Unknown field."
                unknown[str(key)] = [message]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictInputSerializerExtension(OpenApiSerializerExtension):
    target_class = StrictInputSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only: no "yes", "1" or "on"."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid", input=data)


class CountryCodeField(serializers.ChoiceField):
    """An ISO 3166-1 alpha-2 code ("IN"), or blank for none. Lower case is accepted on input."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        super().__init__(choices=[(code, name) for code, name in countries], **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.strip().upper()
        return super().to_internal_value(data)

    def to_representation(self, value):
        return str(value) if value else ""


# --- Input ------------------------------------------------------------------------------------------


def password_field(**kwargs) -> serializers.CharField:
    # Taken as typed (spaces count), never echoed back, capped before any hasher sees it.
    return serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
        **kwargs,
    )


class RegisterInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = password_field(
        help_text="Checked against the password rules (length, common passwords, similarity)."
    )
    name = serializers.CharField(max_length=150)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(
        max_length=32, required=False, allow_blank=True, validators=[phone_validator]
    )
    country = CountryCodeField(required=False)


class EmailVerifyInputSerializer(StrictInputSerializer):
    token = serializers.CharField(max_length=512, help_text="The token from the verification mail's link.")


class UnsubscribeInputSerializer(StrictInputSerializer):
    token = serializers.CharField(max_length=512, help_text="The token of the mail's unsubscribe link.")


class LoginInputSerializer(StrictInputSerializer):
    email = serializers.EmailField(max_length=254)
    password = password_field()


class PreferencesInputSerializer(StrictInputSerializer):
    notifications = StrictBooleanField(required=False)
    case_study_digest = StrictBooleanField(
        required=False, help_text="A mail of newly published case studies, at most one a day. Off by default."
    )
    theme = serializers.ChoiceField(choices=THEMES, required=False)


class UserUpdateInputSerializer(StrictInputSerializer):
    read_only_keys = frozenset(
        {"id", "email", "role", "created_at", "is_staff", "is_superuser", "is_active", "password"}
    )

    name = serializers.CharField(max_length=150)
    company = serializers.CharField(max_length=200, allow_blank=True)
    phone = serializers.CharField(max_length=32, allow_blank=True, validators=[phone_validator])
    country = CountryCodeField()
    preferences = PreferencesInputSerializer(
        help_text="Merged key by key into the current preferences; keys left out keep their value."
    )


# --- Output -----------------------------------------------------------------------------------------


class PreferencesOutputSerializer(serializers.Serializer):
    notifications = serializers.BooleanField()
    case_study_digest = serializers.BooleanField()
    theme = serializers.ChoiceField(choices=THEMES)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    company = serializers.CharField(read_only=True)
    phone = serializers.CharField(read_only=True)
    country = CountryCodeField(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    email_verified = serializers.BooleanField(
        read_only=True,
        help_text="Whether the address is confirmed (the verification mail's link); only then are "
        "forms sent as a visitor with it part of your export and erasure.",
    )
    preferences = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(PreferencesOutputSerializer)
    def get_preferences(self, user) -> dict:
        return PreferencesOutputSerializer(user_preferences(user=user)).data


class DetailOutputSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


class AuthTokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(
        read_only=True, help_text='Send it as "Authorization: Token <token>". It is shown only once.'
    )
    expiry = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="When the token stops working; null: never."
    )
    user = UserOutputSerializer(read_only=True)
