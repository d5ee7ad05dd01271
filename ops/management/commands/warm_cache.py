from django.core.management.base import CommandError
from django.urls import reverse

from common.caching import content_version, content_version_bump, public_cache_warm
from common.commands import BaseCommand
from common.progress import Progress
from content import selectors as content_selectors
from content.publishing import public_pages_of
from impact import selectors as impact_selectors


def public_paths() -> list[str]:
    """Every public list (first page) and every published detail page."""
    paths = public_pages_of()
    for name, queryset in (
        ("service-detail", content_selectors.service_list()),
        ("case-study-detail", content_selectors.case_study_list()),
        ("impact-story-detail", impact_selectors.impact_story_list()),
    ):
        paths += [reverse(name, kwargs={"slug": slug}) for slug in queryset.values_list("slug", flat=True)]
    return paths


class Command(BaseCommand):
    help = (
        "Retires every stored public API page and renders them again: every list's first page and every "
        "published detail page. Run it after a deploy, or after writing content past the services."
    )

    def handle(self, *args, **options):
        if content_version() is None:
            raise CommandError("The cache cannot be reached (check REDIS_URL): nothing was warmed.")
        content_version_bump()
        paths = public_paths()
        progress = Progress(self.stdout, total=len(paths), label="Warming")
        counts = public_cache_warm(paths, progress=progress)
        self.stdout.write(
            self.style.SUCCESS(f"Warmed {counts['warmed']} pages")
            + (f", {counts['failed']} not cacheable" if counts["failed"] else "")
            + "."
        )
