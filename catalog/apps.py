from importlib import import_module

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self):
        super().import_models()
        import_module("catalog.radar_models")  # the tech radar's models, loaded with this app's (by name: no cycle)
