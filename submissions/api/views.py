import json
import re

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from common.authentication import OptionalTokenAuthentication
from common.crypto import blind_index, email_blind_index
from common.exceptions import ApiError
from common.net import client_ip
from common.parsers import JSONParser
from common.ratelimit import hit
from submissions import selectors
from submissions.models import FormSubmission, FormType
from submissions.services import IdempotencyKeyReused, submission_create, submission_replayable

from .serializers import (
    ContactInputSerializer,
    DemoRequestInputSerializer,
    LeadFormSerializer,
    QuoteRequestInputSerializer,
    SubmissionOutputSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY_MAX = 128
# Visible ASCII: what a client can send in a header unchanged (a UUID is the usual choice).
_IDEMPOTENCY_KEY = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}}")

_IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Optional; any unique string, e.g. a UUID. Keys belong to the client that sent them: the "
        "signed-in user (token), else the client address. Sending the same key again for the same form "
        "with the same body returns the first submission (200, header `Idempotent-Replayed: true`) "
        "instead of storing a second one; the same key with a different body is a 422 "
        "`idempotency_key_reused`. Another client's key is never matched."
    ),
    type={"type": "string", "minLength": 1, "maxLength": IDEMPOTENCY_KEY_MAX, "pattern": "^[!-~]+$"},
)
_REPLAYED_PARAMETER = OpenApiParameter(
    REPLAYED_HEADER,
    location=OpenApiParameter.HEADER,
    type=OpenApiTypes.STR,
    enum=["true"],
    response=[200],
    description="Present when the response replays an earlier submission with the same Idempotency-Key.",
)


def _idempotency_key(request) -> str | None:
    if IDEMPOTENCY_HEADER not in request.headers:
        return None
    key = request.headers[IDEMPOTENCY_HEADER]
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    f"Must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters (no spaces), e.g. a UUID."
                ]
            }
        )
    return key


def _refuse_large_body(request) -> None:
    """
    A 413 from the Content-Length header alone, before anything reads the body: a server reads no
    more of a request body than that header announces (Django treats a request without it as empty).
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.LEAD_FORM_MAX_BODY_BYTES
    if length > limit:
        raise ApiError(
            f"The request body is larger than the {limit:,} bytes a form may send.",
            status=413,
            code="payload_too_large",
        )


def _idempotency_scope(request) -> str:
    """Whose keys these are: the signed-in user, else the client address (as a keyed hash)."""
    if request.user.is_authenticated:
        return blind_index(f"user:{request.user.pk}")
    return blind_index(f"ip:{client_ip(request)}")


def _fingerprint(data) -> str:
    """
    The body as canonical JSON (the same fields and values in any order match), through the keyed
    HMAC: a plain SHA-256 of a short form could be confirmed by hashing a guess at its contents.
    """
    return blind_index(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _throttle(request, *, email: str) -> None:
    """One count per client address and one per e-mail address; over either limit is a 429."""
    window = settings.LEAD_FORM_WINDOW
    checks = (
        (f"lead-form:ip:{client_ip(request)}", settings.LEAD_FORM_LIMIT_PER_IP),
        # The blind index, never the address itself: cache keys show up in monitoring tools.
        (f"lead-form:email:{email_blind_index(email)}", settings.LEAD_FORM_LIMIT_PER_EMAIL),
    )
    for key, limit in checks:
        counted = hit(key, limit=limit, window=window)
        if not counted.allowed:
            raise Throttled(wait=counted.retry_after)


class LeadFormApi(APIView):
    """
    A lead form: validate, throttle, store, answer with a receipt. The e-mail to sales is sent by a
    Celery task after the row is committed.
    """

    permission_classes = [AllowAny]
    authentication_classes = [OptionalTokenAuthentication]
    # Throttling is per client address and per e-mail address, both in _throttle.
    throttle_classes = []
    # A form is a few fields of text: no files, no form encoding (which would also parse any file part).
    parser_classes = [JSONParser]
    form_type: str = ""
    input_serializer_class: type[LeadFormSerializer] = LeadFormSerializer

    def initial(self, request, *args, **kwargs):
        _refuse_large_body(request)
        super().initial(request, *args, **kwargs)

    def post(self, request):
        try:
            return self._submit(request)
        except IdempotencyKeyReused as error:  # found at the look-up, or by a race lost to such a request
            raise ApiError(str(error), status=422, code="idempotency_key_reused") from None

    def _submit(self, request) -> Response:
        idempotency_key = _idempotency_key(request)
        scope = fingerprint = ""
        if idempotency_key:
            scope, fingerprint = _idempotency_scope(request), _fingerprint(request.data)
            # Before validation: a retried request gets the first answer even if, meanwhile, its
            # input stopped being valid (a service unpublished, the preferred date gone by).
            existing = selectors.submission_get_by_idempotency_key(
                form_type=self.form_type, scope=scope, idempotency_key=idempotency_key
            )
            if submission_replayable(existing, fingerprint=fingerprint) is not None:
                return self._replay(existing)

        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)

        def throttle():
            _throttle(request, email=serializer.validated_data["email"])

        if serializer.is_bot:
            throttle()
            # Looks like any success, so a bot learns nothing; nothing is stored, nothing queued.
            decoy = FormSubmission(form_type=self.form_type)
            return Response(SubmissionOutputSerializer(decoy).data, status=status.HTTP_201_CREATED)
        if not idempotency_key:
            throttle()  # nothing to replay: counted before any write

        submission, created = submission_create(
            form_type=self.form_type,
            data=serializer.submission_data(),
            services=serializer.validated_data.get("services", []),
            user=request.user if request.user.is_authenticated else None,
            idempotency_key=idempotency_key,
            idempotency_scope=scope,
            idempotency_fingerprint=fingerprint,
            # With a key, counted only once the key is claimed: a retry that races its own first
            # request (the look-up above missed a row not yet committed) waits for it and gets the
            # replay, instead of a 429 that also spent the client's budget.
            admit=throttle if idempotency_key else None,
        )
        if not created:
            return self._replay(submission)
        return Response(SubmissionOutputSerializer(submission).data, status=status.HTTP_201_CREATED)

    def _replay(self, submission: FormSubmission) -> Response:
        return Response(
            SubmissionOutputSerializer(submission).data,
            status=status.HTTP_200_OK,
            headers={REPLAYED_HEADER: "true"},
        )


def _lead_form_schema(input_serializer, *, summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description
        + "\n\nThrottled per client address and per e-mail address (429 with `Retry-After`). "
        f"A JSON body only (415 for any other type), of at most {settings.LEAD_FORM_MAX_BODY_BYTES:,} "
        "bytes (413 before it is read). Nothing the visitor typed is sent back.",
        request=input_serializer,
        responses={
            201: OpenApiResponse(SubmissionOutputSerializer, description="Stored; sales will be told."),
            200: OpenApiResponse(
                SubmissionOutputSerializer,
                description="Replayed: the first submission made with this Idempotency-Key.",
            ),
        },
        parameters=[_IDEMPOTENCY_PARAMETER, _REPLAYED_PARAMETER],
        extensions={"x-extra-errors": ["413", "422"]},  # the error shape, added by common.schema
        tags=["submissions"],
    )


class ContactSubmissionApi(LeadFormApi):
    form_type = FormType.CONTACT
    input_serializer_class = ContactInputSerializer

    @_lead_form_schema(
        ContactInputSerializer,
        summary="Send a contact message",
        description="A message to IndiVillage from anyone, with or without an account.",
    )
    def post(self, request):
        return super().post(request)


class DemoRequestSubmissionApi(LeadFormApi):
    form_type = FormType.DEMO_REQUEST
    input_serializer_class = DemoRequestInputSerializer

    @_lead_form_schema(
        DemoRequestInputSerializer,
        summary="Request a demo",
        description="A demo of one or more published services on a preferred date.",
    )
    def post(self, request):
        return super().post(request)


class QuoteRequestSubmissionApi(LeadFormApi):
    form_type = FormType.QUOTE_REQUEST
    input_serializer_class = QuoteRequestInputSerializer

    @_lead_form_schema(
        QuoteRequestInputSerializer,
        summary="Request a quote",
        description="A quote for published services, with budget, timeline and data volume.",
    )
    def post(self, request):
        return super().post(request)
