from django.apps import AppConfig


class ImpactConfig(AppConfig):
    name = "impact"
    verbose_name = "Impact"

    def ready(self):
        from common.caching import connect_content_invalidation

        connect_content_invalidation(self.label)
