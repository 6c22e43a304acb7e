from django.apps import AppConfig


class GuidesConfig(AppConfig):
    name = "guides"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from guides.selectors import forget_tag_cloud

        post_save.connect(forget_tag_cloud, sender="guides.Guide", dispatch_uid="guides-tag-cloud-save")
        post_delete.connect(forget_tag_cloud, sender="guides.Guide", dispatch_uid="guides-tag-cloud-delete")
