from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from guides import selectors, services
from guides.forms import GuideForm
from guides.models import Guide
from portal.errors import NotFound, PortalError
from portal.paging import capped_page
from portal.permissions import is_keeper
from portal.redirects import safe_next


def _guide_or_404(slug):
    try:
        return selectors.guide_get(slug=slug)
    except NotFound:
        raise Http404("No such guide") from None


def guide_list(request, kind=""):
    tag = request.GET.get("tag", "")
    guides = selectors.guide_list(kind=kind, tag=tag)
    page = capped_page(guides, request.GET.get("page"), 30)
    done = selectors.progress_map(user=request.user, guide_ids=[g.id for g in page.object_list])
    rows = [
        {"guide": g, "done": len(set(done.get(g.id, [])) & set(g.step_ids)), "total": len(g.steps)}
        for g in page.object_list
    ]
    return render(
        request,
        "guides/guide_list.html",
        {
            "page": page,
            "rows": rows,
            "kind": kind,
            "tag": tag,
            "tags": selectors.tag_cloud(),
            "heading": "Best-practice articles" if kind == Guide.Kind.ARTICLE else "Guides and articles",
        },
    )


def article_list(request):
    return guide_list(request, kind=Guide.Kind.ARTICLE)


def guide_detail(request, slug):
    guide = _guide_or_404(slug)
    done = set(selectors.progress_map(user=request.user, guide_ids=[guide.id]).get(guide.id, []))
    return render(
        request,
        "guides/guide_detail.html",
        {
            "guide": guide,
            "html": selectors.rendered(guide),
            "done": done,
            "done_count": len(done & set(guide.step_ids)),
            "related": guide.related_entries.all(),
        },
    )


@require_POST
def step_toggle(request, slug, step_id):
    guide = _guide_or_404(slug)
    done = request.POST.get("done") == "1"
    try:
        progress = services.progress_set(user=request.user, guide=guide, step_id=step_id, done=done)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("guides:detail", slug=slug)
    if request.htmx:
        step = next(s for s in guide.steps if s["id"] == step_id)
        return render(
            request,
            "guides/_step_toggle.html",
            {
                "guide": guide,
                "step": step,
                "is_done": step_id in progress.steps_done,
                "done_count": len(progress.steps_done),
                "oob": True,
            },
        )
    return redirect(f"/guides/{slug}/#{step_id}")


def guide_edit(request, slug=None):
    if not is_keeper(request.user):
        raise Http404
    guide = _guide_or_404(slug) if slug else None
    form = GuideForm(request.POST or None, instance=guide)
    if request.method == "POST" and form.is_valid():
        try:
            guide = services.guide_save(user=request.user, guide=guide, data=form.cleaned_data, request=request)
        except PortalError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Saved.")
            return redirect("guides:detail", slug=guide.slug)
    return render(request, "guides/guide_edit.html", {"form": form, "guide": guide})


@require_POST
def guide_reviewed(request, slug):
    guide = _guide_or_404(slug)
    try:
        services.guide_mark_reviewed(user=request.user, guide=guide, request=request)
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Marked '{guide.title}' as reviewed today.")
    return redirect(safe_next(request.POST.get("next"), reverse("guides:detail", args=[slug])))
