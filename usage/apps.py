from django.apps import AppConfig


class UsageConfig(AppConfig):
    """Usage and cost per resource, person and team, recorded from the lifecycle; prices and budgets."""

    name = "usage"
    verbose_name = "Usage and cost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from portal.signals import resource_state_changed
        from usage import services

        resource_state_changed.connect(services.on_state_changed, dispatch_uid="usage-state")

        from provisioning.policy import request_check_register

        request_check_register(services.budget_check_request)
