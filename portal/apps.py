from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal import schema_hooks  # noqa: F401 (registers the OpenAPI field extension, issue 20)
        from portal.input_guard import refuse_unknown_fields

        refuse_unknown_fields()
        from portal.notifications import listeners

        listeners.connect()
