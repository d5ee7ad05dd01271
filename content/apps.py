from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"
    verbose_name = "Content"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import documents

        documents.connect()
        post_migrate.connect(documents.on_migrate, sender=self, dispatch_uid="content.documents:migrate")
