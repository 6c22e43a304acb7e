from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from catalog import selectors, services
from catalog.forms import EntryForm
from catalog.models import EntryKind, Lifecycle
from portal.errors import NotFound, PortalError
from portal.models import AuditEvent
from portal.paging import capped_page
from portal.permissions import is_keeper


def entry_list(request):
    kind = request.GET.get("kind", "") if request.GET.get("kind") in EntryKind.values else ""
    lifecycle = request.GET.get("lifecycle", "") if request.GET.get("lifecycle") in Lifecycle.values else ""
    tag, owner = request.GET.get("tag", "")[:40], request.GET.get("owner", "")[:40]
    entries = selectors.entry_list(kind=kind, tag=tag, lifecycle=lifecycle, owner=owner)
    page = capped_page(entries, request.GET.get("page"), 24)
    return render(
        request,
        "catalog/entry_list.html",
        {
            "page": page,
            "entries": selectors.with_health(page.object_list),
            "kind": kind,
            "tag": tag,
            "lifecycle": lifecycle,
            "owner": owner,
            "kinds": EntryKind.choices,
            "lifecycles": Lifecycle.choices,
            "tags": selectors.popular_tags(),
            "owners": selectors.owners(),
        },
    )


def _entry_or_404(slug):
    try:
        return selectors.entry_get(slug=slug)
    except NotFound:
        raise Http404("No such entry") from None


def entry_detail(request, slug):
    entry = _entry_or_404(slug)
    history = []
    if is_keeper(request.user):
        history = AuditEvent.objects.filter(target_type="catalog.Entry", target_id=str(entry.pk)).select_related(
            "actor"
        )[:20]
    return render(
        request,
        "catalog/entry_detail.html",
        {
            "entry": entry,
            "health": selectors.with_health([entry])[0],
            "templates": entry.related_templates.filter(enabled=True),
            "guides": entry.guides.filter(published=True).defer("body"),
            "history": history,
        },
    )


def entry_edit(request, slug=None):
    if not is_keeper(request.user):
        raise Http404
    entry = _entry_or_404(slug) if slug else None
    form = EntryForm(request.POST or None, instance=entry)
    if request.method == "POST" and form.is_valid():
        try:
            entry = services.entry_save(user=request.user, entry=entry, data=form.cleaned_data, request=request)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Saved '{entry.name}'.")
            return redirect("catalog:detail", slug=entry.slug)
    return render(request, "catalog/entry_edit.html", {"form": form, "entry": entry})


@require_POST
def entry_delete(request, slug):
    entry = _entry_or_404(slug)
    try:
        services.entry_delete(user=request.user, entry=entry, request=request)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:detail", slug=slug)
    messages.success(request, f"Removed '{entry.name}' from the catalog.")
    return redirect("catalog:list")
