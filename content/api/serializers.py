from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.richtext import excerpt
from content.models import CaseStudy, CaseStudyResult, Image, Industry, Service, ServiceFeature

EXCERPT_LENGTH = 200
META_DESCRIPTION_LENGTH = 160
RICH_TEXT_HELP = "Sanitised HTML: p, br, h2–h4, ul, ol, li, a (href), strong, em, b, i and nothing else."


def meta_title(row) -> str:
    """What search engines should show as the title: the one set for them, or the item's own."""
    return row["meta_title"] or row.get("title") or row.get("name", "")


def meta_description(row, text: str) -> str:
    return row["meta_description"] or excerpt(text, META_DESCRIPTION_LENGTH)


class SeoFieldsMixin(serializers.Serializer):
    """`meta_title` and `meta_description` as a page should use them, the editor's or made from the item."""

    meta_title = serializers.SerializerMethodField(help_text="The page title for search engines.")
    meta_description = serializers.SerializerMethodField(
        help_text="The page summary for search engines: the editor's, or the start of the text."
    )
    description_source: str = ""

    def get_excerpt(self, obj) -> str:
        return excerpt(getattr(obj, self.description_source), EXCERPT_LENGTH)

    def get_meta_title(self, obj) -> str:
        return obj.meta_title or str(obj)  # a case study's or story's title, a service's name

    def get_meta_description(self, obj) -> str:
        return meta_description(
            {"meta_description": obj.meta_description}, getattr(obj, self.description_source)
        )


class RenditionSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="Where the rendition is served from (a path, or a CDN address).")
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    format = serializers.ChoiceField(choices=["webp", "jpeg"])


class FocalPointSerializer(serializers.Serializer):
    x = serializers.FloatField(help_text="From the left edge (0) to the right (1).")
    y = serializers.FloatField(help_text="From the top edge (0) to the bottom (1).")


class ImageSerializer(serializers.Serializer):
    """
    A library image as the site shows it: `url`, `width` and `height` are its widest JPEG rendition;
    `renditions` every size in WebP and JPEG, widest first. Null while its renditions are being made.
    """

    id = serializers.UUIDField()
    url = serializers.CharField()
    alt_text = serializers.CharField()
    credit = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    focal_point = FocalPointSerializer(allow_null=True)
    renditions = RenditionSerializer(many=True)

    def to_representation(self, image: Image):
        if image is None or image.state != Image.State.READY or not image.renditions:
            return None
        storage = Image.public_storage()
        renditions = [
            {"url": storage.url(r["name"]), "width": r["width"], "height": r["height"], "format": r["format"]}
            for r in image.renditions
        ]
        main = next(r for r in renditions if r["format"] == "jpeg")
        focal = {"x": image.focal_x, "y": image.focal_y} if image.focal_x is not None else None
        return {
            "id": str(image.id),
            "url": main["url"],
            "alt_text": image.alt_text,
            "credit": image.credit,
            "width": main["width"],
            "height": main["height"],
            "focal_point": focal,
            "renditions": renditions,
        }


_IMAGE = ImageSerializer()


def image_data(image: Image | None) -> dict | None:
    return _IMAGE.to_representation(image)


def gallery_data(images) -> list[dict]:
    return [data for data in map(image_data, images) if data is not None]


class IllustratedFieldsMixin(serializers.Serializer):
    """The hero image and the gallery (in upload order) of a case study or an impact story."""

    hero_image = ImageSerializer(read_only=True, allow_null=True)
    gallery = serializers.SerializerMethodField()

    @extend_schema_field(ImageSerializer(many=True))
    def get_gallery(self, obj) -> list:
        # Sorted here, not by a query: a prefetched gallery (impact.selectors) costs nothing more.
        return gallery_data(sorted(obj.gallery.all(), key=lambda image: image.created_at))


class ServiceFeatureSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceFeature
        fields = ["title", "description", "order"]


class ServiceSerializer(SeoFieldsMixin, serializers.ModelSerializer):
    features = ServiceFeatureSerializer(many=True, read_only=True)
    icon_image = ImageSerializer(read_only=True, allow_null=True)
    description_source = "description"

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "icon",
            "icon_image",
            "order",
            "published_at",
            "features",
            "meta_title",
            "meta_description",
        ]


class ServiceRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["name", "slug", "icon"]


class IndustrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Industry
        fields = ["id", "name", "slug"]


class IndustryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Industry
        fields = ["name", "slug"]


class CaseStudyResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseStudyResult
        fields = ["metric", "value", "description"]


_DATETIME = serializers.DateTimeField()


class CaseStudySerializer(SeoFieldsMixin, IllustratedFieldsMixin, serializers.ModelSerializer):
    """
    Serializes a model instance field by field, as any ModelSerializer does, or a row of
    selectors.case_study_relations() (a dict of values) straight into the same representation: DRF's
    field machinery and the model instances behind it cost most of an uncached page of twenty
    (docs/performance.md). A test compares the two paths (content/tests/test_case_study_list.py), so
    a field added to one and not the other fails there.
    """

    industry = IndustryRefSerializer(read_only=True)
    services = ServiceRefSerializer(many=True, read_only=True)
    results = CaseStudyResultSerializer(many=True, read_only=True)
    challenge = serializers.CharField(read_only=True, help_text=RICH_TEXT_HELP)
    solution = serializers.CharField(read_only=True, help_text=RICH_TEXT_HELP)
    excerpt = serializers.SerializerMethodField(help_text="The start of the challenge as plain text.")
    description_source = "challenge"

    class Meta:
        model = CaseStudy
        fields = [
            "id",
            "title",
            "slug",
            "client",
            "excerpt",
            "challenge",
            "solution",
            "industry",
            "services",
            "results",
            "hero_image",
            "gallery",
            "published_at",
            "meta_title",
            "meta_description",
        ]

    def to_representation(self, instance):
        if not isinstance(instance, dict):
            return super().to_representation(instance)
        return {
            "id": str(instance["id"]),
            "title": instance["title"],
            "slug": instance["slug"],
            "client": instance["client"],
            "excerpt": excerpt(instance["challenge"], EXCERPT_LENGTH),
            "challenge": instance["challenge"],
            "solution": instance["solution"],
            "industry": instance["industry"],
            "services": instance["services"],
            "results": instance["results"],
            "hero_image": image_data(instance["hero_image"]),
            "gallery": gallery_data(instance["gallery"]),
            "published_at": _DATETIME.to_representation(instance["published_at"]),
            "meta_title": meta_title(instance),
            "meta_description": meta_description(instance, instance["challenge"]),
        }
