from importlib import import_module

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self):
        super().import_models()
        import_module("catalog.radar_models")  # the tech radar's models, loaded with this app's (by name: no cycle)

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from catalog.selectors import forget_cached_lists

        post_save.connect(forget_cached_lists, sender="catalog.Entry", dispatch_uid="catalog-lists-save")
        post_delete.connect(forget_cached_lists, sender="catalog.Entry", dispatch_uid="catalog-lists-delete")
