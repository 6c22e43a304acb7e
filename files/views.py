"""Pages of the file browser: folders with sizes and dates, upload, download, view, edit, rename, delete."""

from __future__ import annotations

import tempfile

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from files import services, viewers
from files.charts import line_chart
from files.curves import curves_from_store
from files.paths import breadcrumbs, path_clean, path_parent
from files.roots import root_get, roots_list
from portal.errors import NotFound, PortalError
from portal.selectors import current_team

SORTS = {"name": lambda e: (not e.is_dir, e.name.lower()), "size": lambda e: (not e.is_dir, e.size or 0),
         "modified": lambda e: (not e.is_dir, e.modified.timestamp() if e.modified else 0)}  # fmt: skip


def _root(request, key):
    try:
        return root_get(user=request.user, key=key)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _browse_url(key, path="", **extra) -> str:
    query = {"path": path, **extra} if path else extra
    return reverse("files:browse", args=[key]) + (f"?{urlencode(query)}" if query else "")


def _refused(request, root, exc: PortalError):
    """A path or request the browser cannot follow: the reason in words, with a way back."""
    return render(request, "files/refused.html", {"root": root, "message": exc.message}, status=exc.status_code)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def files_index(request):
    team = current_team(request)
    roots = roots_list(user=request.user, team=team) if team else []
    return render(request, "files/index.html", {"team": team, "roots": roots})


def files_browse(request, key):
    root = _root(request, key)
    try:
        path = path_clean(request.GET.get("path"))
        is_dir = root.store.is_dir(path)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except PortalError as exc:
        return _refused(request, root, exc)
    context = {"root": root, "path": path, "crumbs": breadcrumbs(path), "parent": path_parent(path)}
    context["terminal_path"] = root.store.terminal_path(path)
    if is_dir:
        sort = request.GET.get("sort", "name")
        sort = sort if sort in SORTS else "name"
        descending = request.GET.get("desc") == "1"
        entries = sorted(root.store.list(path), key=SORTS[sort], reverse=descending)
        context.update(entries=entries, sort=sort, desc=descending)
        return render(request, "files/folder.html", context)
    entry = root.store.stat(path)
    viewer = viewers.viewer_for(entry)
    context.update(entry=entry, viewer=viewer)
    if viewer in ("text", "csv", "notebook"):
        handle = root.store.open(path)
        try:
            if viewer == "text":
                text, truncated, binary = viewers.text_preview(handle)
                context.update(text=text, truncated=truncated, binary=binary)
                context["editable"] = not binary and not truncated and root.store.kind == "folder"
            elif viewer == "csv":
                header, rows, truncated = viewers.csv_preview(handle, entry.name)
                context.update(header=header, rows=rows, truncated=truncated)
            else:
                context["cells"] = viewers.notebook_cells(handle)
        finally:
            handle.close()
    return render(request, "files/file.html", context)


def files_download(request, key):
    """A file (streamed; from S3 through a short-lived presigned address) or a folder as a zip."""
    root = _root(request, key)
    try:
        path = path_clean(request.GET.get("path"))
        return download_response(root, path, inline=request.GET.get("inline") == "1")
    except NotFound as exc:
        raise Http404(exc.message) from None
    except PortalError as exc:
        return _refused(request, root, exc)


def download_response(root, path: str, *, inline: bool = False):
    """Shared by the page and the API. Inline only for raster images, in a sandbox, never as HTML or SVG."""
    if root.store.is_dir(path):
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it when the download ends)
        root.store.zip_to(path, spool)
        spool.seek(0)
        name = (path.rsplit("/", 1)[-1] if path else root.team.slug) + ".zip"
        return FileResponse(spool, as_attachment=True, filename=name, content_type="application/zip")
    entry = root.store.stat(path)
    show_inline = inline and entry.content_type in viewers.INLINE_IMAGES
    if root.is_s3 and not show_inline and settings.FILES_S3_PRESIGNED_DOWNLOADS:
        return HttpResponseRedirect(root.store.download_url(path))
    response = FileResponse(
        root.store.open(path),
        as_attachment=not show_inline,
        filename=entry.name,
        content_type=entry.content_type if show_inline else "application/octet-stream",
    )
    if entry.size is not None:
        response["Content-Length"] = str(entry.size)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _done(request, key, folder, message, status=200, **data):
    if _wants_json(request):
        return JsonResponse({"message": message, **data}, status=status)
    if status < 400:
        messages.success(request, message)
    else:
        messages.error(request, message)
    return redirect(_browse_url(key, folder))


@require_POST
def files_upload(request, key):
    root = _root(request, key)
    folder = request.POST.get("path", "")
    try:
        written = services.file_upload(
            user=request.user, root=root, folder=folder, uploads=request.FILES.getlist("files"), request=request
        )
    except PortalError as exc:
        return _done(request, key, folder, exc.message, status=exc.status_code, error=exc.code)
    names = ", ".join(path.rsplit("/", 1)[-1] for path in written)
    return _done(request, key, folder, f"Uploaded {names}.", paths=written)


@require_POST
def files_mkdir(request, key):
    root = _root(request, key)
    folder = request.POST.get("path", "")
    try:
        path = services.folder_create(
            user=request.user, root=root, folder=folder, name=request.POST.get("name", ""), request=request
        )
    except PortalError as exc:
        return _done(request, key, folder, exc.message, status=exc.status_code, error=exc.code)
    return _done(request, key, folder, f"Made the folder {path.rsplit('/', 1)[-1]}.", path=path)


@require_POST
def files_rename(request, key):
    root = _root(request, key)
    path = request.POST.get("path", "")
    try:
        new_path = services.file_rename(
            user=request.user, root=root, path=path, new_name=request.POST.get("new_name", ""), request=request
        )
    except PortalError as exc:
        return _done(request, key, path_parent(path), exc.message, status=exc.status_code, error=exc.code)
    return _done(request, key, path_parent(new_path), f"Renamed to {new_path.rsplit('/', 1)[-1]}.", path=new_path)


@require_POST
def files_delete(request, key):
    root = _root(request, key)
    path = request.POST.get("path", "")
    try:
        services.file_delete(user=request.user, root=root, path=path, request=request)
    except PortalError as exc:
        return _done(request, key, path_parent(path), exc.message, status=exc.status_code, error=exc.code)
    return _done(request, key, path_parent(path), f"Deleted {path.rsplit('/', 1)[-1]}.")


@require_POST
def files_edit(request, key):
    root = _root(request, key)
    path = request.POST.get("path", "")
    try:
        services.file_write_text(
            user=request.user, root=root, path=path, text=request.POST.get("text", ""), request=request
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Saved.")
    return redirect(_browse_url(key, path))


def _job_store(resource):
    """Where the job's files are (a folder here, a Slurm job's folder on the cluster, a Kubernetes job's results
    prefix in S3), or None."""
    from files.roots import resource_store

    try:
        return resource_store(resource)
    except PortalError:
        return None


def curves_partial(request, resource_id):
    """The training curves of one job (refreshes itself while the job runs)."""
    from provisioning.selectors import resource_get

    try:
        resource = resource_get(user=request.user, resource_id=resource_id)
    except NotFound:
        raise Http404("No such resource") from None
    series = curves_from_store(_job_store(resource))
    charts = [
        {"metric": metric, "svg": line_chart(metric, [(resource.name, points)]), "last": points[-1]}
        for metric, points in series.items()
    ]
    return render(request, "files/_curves.html", {"resource": resource, "charts": charts})


def curves_compare(request):
    """Several runs of the team on one chart per metric: pick the jobs to compare."""
    from provisioning.selectors import resource_list

    team = current_team(request)
    jobs = list(resource_list(user=request.user, team=team, kind="training_job")[:200]) if team else []
    picked_ids = {value for value in request.GET.getlist("run") if len(value) == 36}
    picked = [job for job in jobs if str(job.id) in picked_ids]
    by_metric: dict[str, list] = {}
    for job in picked:
        for metric, points in curves_from_store(_job_store(job)).items():
            by_metric.setdefault(metric, []).append((job.name, points))
    charts = [{"metric": m, "svg": line_chart(m, runs), "runs": runs} for m, runs in sorted(by_metric.items())]
    return render(
        request,
        "files/compare.html",
        {
            "team": team,
            "jobs": jobs,
            "picked": {str(job.id) for job in picked},
            "charts": charts,
        },
    )
