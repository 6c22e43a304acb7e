from importlib import import_module

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"
    default_auto_field = "django.db.models.BigAutoField"
    # Models kept in their own modules, loaded with this app's models (by name, so portal.models imports none of them
    # and they may import it).
    model_modules = ("portal.keeper_requests.models", "portal.notifications.models", "portal.teams.models")

    def import_models(self):
        super().import_models()
        for name in self.model_modules:
            import_module(name)

    def ready(self):
        from portal import schema_hooks  # noqa: F401 (registers the OpenAPI field extension, issue 20)
        from portal.input_guard import refuse_unknown_fields

        refuse_unknown_fields()
        from portal.notifications import listeners

        listeners.connect()
