"""The inbox page, marking read, channel preferences, and the one-click "keep it running"."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.errors import PortalError
from portal.keeper_requests.views import _safe_next
from portal.notifications import services
from portal.notifications.actions import notebook_keep_running
from portal.notifications.models import Notification


def inbox(request):
    rows = (
        Notification.objects.filter(user=request.user, read_at__isnull=True)
        if request.GET.get("unread")
        else Notification.objects.filter(user=request.user)
    )
    page = Paginator(rows.select_related("team"), 30).get_page(request.GET.get("page"))
    return render(
        request,
        "portal/notifications/inbox.html",
        {"page": page, "notifications": page.object_list, "unread_only": bool(request.GET.get("unread"))},
    )


@require_POST  # it marks the notification read: no GET changes anything
def open_one(request, pk):
    """Mark one read and go where it leads."""
    try:
        notification = services.notification_get(user=request.user, notification_id=pk)
    except PortalError:
        raise Http404 from None
    services.notification_mark_read(user=request.user, ids=[notification.pk])
    target = notification.url or "/notifications/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/notifications/"
    return redirect(target)


@require_POST
def mark_read(request):
    raw = request.POST.getlist("id")
    try:
        ids = [int(i) for i in raw] if raw else None
    except ValueError:
        messages.error(request, "Those are not notifications of yours.")
        return redirect("notifications:inbox")
    count = services.notification_mark_read(user=request.user, ids=ids)
    messages.success(request, f"{count} marked read.")
    return redirect("notifications:inbox")


def preferences(request):
    if request.method == "POST":
        changes = [
            {
                "kind": row["kind"],
                "inbox": f"{row['kind']}:inbox" in request.POST,
                "email": f"{row['kind']}:email" in request.POST,
                "webhook": f"{row['kind']}:webhook" in request.POST,
            }
            for row in services.preferences_for(user=request.user)
        ]
        services.preferences_update(user=request.user, changes=changes)
        messages.success(request, "Saved: you will be told as you chose.")
        return redirect("notifications:preferences")
    return render(
        request, "portal/notifications/preferences.html", {"rows": services.preferences_for(user=request.user)}
    )


@require_POST
def keep_running(request, resource_id):
    try:
        resource = notebook_keep_running(user=request.user, resource_id=resource_id)
    except PortalError as exc:
        if exc.status_code == 404:
            raise Http404 from None
        messages.error(request, exc.message)
        return redirect("notifications:inbox")
    Notification.objects.filter(user=request.user, action="keep_running", action_target=str(resource.pk)).update(
        action=""
    )
    messages.success(request, f"{resource.name} keeps running: its idle clock starts again now.")
    return redirect(_safe_next(request, "/notifications/"))
