from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self):
        from django.db.models.signals import post_migrate

        from common.caching import connect_content_invalidation

        from . import documents

        connect_content_invalidation(self.label)
        documents.connect()
        post_migrate.connect(documents.on_migrate, sender=self, dispatch_uid="content.documents:migrate")
