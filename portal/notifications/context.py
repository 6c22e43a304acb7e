"""The header bell: the signed-in person's unread count, in one COUNT query per page."""

from portal.notifications.models import Notification


def unread(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {"unread_notifications": Notification.objects.filter(user=user, read_at__isnull=True).count()}
