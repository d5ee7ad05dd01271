from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Common"

    def ready(self):
        from .encryption import install_keyring

        # Every model is loaded by now; the fields must use the keyring before the first query.
        install_keyring()
