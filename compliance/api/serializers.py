"""The GDPR endpoints' bodies: the erasure's password, and the export document as the schema publishes it."""

from rest_framework import serializers

from accounts.api.serializers import StrictInputSerializer, password_field
from accounts.models import Role


class UserEraseInputSerializer(StrictInputSerializer):
    password = password_field(help_text="Your current password: the erasure cannot be undone.")


# The export document (compliance.selectors.user_export_document) as the schema publishes it: the view
# returns the document itself, these only describe it.
class ExportProfileSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    company = serializers.CharField()
    phone = serializers.CharField()
    country = serializers.CharField(help_text="ISO 3166-1 alpha-2, or empty.")
    role = serializers.ChoiceField(choices=Role.choices)
    is_active = serializers.BooleanField()
    preferences = serializers.DictField()
    legal_hold = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    email_verified_at = serializers.DateTimeField(allow_null=True)
    anonymized_at = serializers.DateTimeField(allow_null=True)


class ExportSubmissionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    form_type = serializers.CharField()
    status = serializers.CharField()
    data = serializers.DictField(help_text="What was sent in the form, decrypted.")
    services = serializers.ListField(child=serializers.CharField(), help_text="Slugs of the services.")
    via_account = serializers.BooleanField(
        help_text="Sent while signed in; false: sent as a visitor with the same e-mail address."
    )
    created_at = serializers.DateTimeField()


class ExportAnalysisSerializer(serializers.Serializer):
    summary = serializers.CharField()
    details = serializers.JSONField(allow_null=True, help_text="null when the document cannot be read.")


class ExportUploadSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    size = serializers.IntegerField()
    mime_type = serializers.CharField()
    sha256 = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)
    analysis = ExportAnalysisSerializer(allow_null=True)


class ExportAuditEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    action = serializers.CharField()
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    by_user = serializers.BooleanField(help_text="true: you did it; false: it was done to your account.")
    changes = serializers.DictField()
    ip_address = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class UserExportOutputSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField()
    user = ExportProfileSerializer()
    submissions = ExportSubmissionSerializer(many=True)
    uploads = ExportUploadSerializer(many=True)
    audit_events = ExportAuditEventSerializer(many=True)
