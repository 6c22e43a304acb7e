"""Pages: the team's resources, the forms that make them, and each resource's live status."""

from __future__ import annotations

import time

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from catalog.models import ResourceKind
from portal.errors import NotAllowed, NotFound, PortalError
from portal.redirects import safe_next
from portal.selectors import current_team
from provisioning import selectors, services
from provisioning.actions import ACTIONS, action_run, preview_enqueue, request_team
from provisioning.drivers import DriverError, get_driver
from provisioning.folders import files_key, team_folder_paths
from provisioning.forms import ResourceForm, initial_from
from provisioning.models import State
from provisioning.output import output_read, output_tail
from provisioning.policy import allowed_actions
from provisioning.quotas import quota_summary


def _resource_or_404(request, resource_id):
    try:
        return selectors.resource_get(user=request.user, resource_id=resource_id)
    except NotFound:
        raise Http404("No such resource") from None


def resource_list(request):
    kind, state = request.GET.get("kind", ""), request.GET.get("state", "")
    if kind not in ResourceKind.values:
        kind = ""
    if state not in State.values:
        state = ""
    team = current_team(request)
    resources = selectors.resource_list(
        user=request.user, team=None if request.GET.get("all") else team, kind=kind, state=state
    )
    page = Paginator(resources, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "provisioning/resource_list.html",
        {
            "page": page,
            "resources": page.object_list,
            "kind": kind,
            "state": state,
            "team": team,
            "kinds": ResourceKind.choices,
            "states": State.choices,
            "quotas": quota_summary(team) if team else [],
        },
    )


def template_pick(request):
    return render(request, "provisioning/template_pick.html", {"templates": selectors.template_list()})


def _offer_problem(template) -> str | None:
    """Why this template cannot be used on this machine now (local notebooks and jobs without a sandbox)."""
    try:
        driver = get_driver(template.driver, template.resource_kind)
    except DriverError:
        return None
    return getattr(driver, "offer_problem", lambda: None)()


def _form_schema(template) -> dict:
    """The template's schema, with choices the driver reads from its backend (a Slurm cluster's partitions)."""
    try:
        driver = get_driver(template.driver, template.resource_kind)
    except DriverError:
        return template.parameters_schema
    form_schema = getattr(driver, "form_schema", None)
    return form_schema(template.parameters_schema) if form_schema else template.parameters_schema


def _request_team(request):
    """The team a request from a page is for: the same rule as the API's (actions.request_team), with the page's
    current team (the team switcher) as the one named; None when the user is in no team."""
    try:
        return request_team(request.user, current=current_team(request))
    except PortalError:
        return None


def resource_new(request, slug):
    try:
        template = selectors.template_get(slug=slug)
    except NotFound:
        raise Http404("No such template") from None
    team = _request_team(request)
    visible = services.visible_parameters(template)
    initial = {"name": request.GET.get("name", "")}
    if request.GET.get("from"):  # "Run again": the form filled in as that resource was asked for
        try:
            earlier = selectors.resource_get(user=request.user, resource_id=request.GET["from"])
        except NotFound:
            raise Http404("No such resource") from None
        initial.update(initial_from(template.parameters_schema, earlier.parameters))
    form = ResourceForm(
        request.POST or None,
        schema=_form_schema(template),
        visible=visible,
        initial=initial,
    )
    if "start_from" in form.fields and team is not None:  # suggest what is in the team folder
        form.fields["start_from"].widget.attrs["list"] = "team-files"
        form.team_files = team_folder_paths(team)
    if request.method == "POST" and team is None:
        messages.error(request, "You need to be in a team to ask for resources. Ask the Keepers to add you to one.")
    elif request.method == "POST" and form.is_valid():
        try:
            resource = services.resource_request(
                template=template,
                team=team,
                owner=request.user,
                name=form.cleaned_data["name"],
                parameters=form.parameters(),
                idempotency_key=request.POST.get("idempotency_key", "")[:100],
                request=request,
            )
        except PortalError as exc:
            form.add_portal_errors(exc.fields or {None: exc.message})
        else:
            if resource.state == State.AWAITING_APPROVAL:
                messages.info(
                    request, "Your request is waiting for a Keeper's approval. You will see the decision here."
                )
            else:
                messages.success(request, f"'{resource.name}' is on its way. This page updates by itself.")
            return redirect("provisioning:detail", resource_id=resource.id)
    import uuid

    return render(
        request,
        "provisioning/resource_new.html",
        {
            "template": template,
            "form": form,
            "team": team,
            "quotas": quota_summary(team) if team else [],
            "idempotency_key": request.POST.get("idempotency_key") or uuid.uuid4().hex,
            "offer_problem": _offer_problem(template),
        },
    )


# Outputs that are folders: shown as a link into the file browser; the path only "for the terminal".
FOLDER_OUTPUTS = ("workdir", "path", "working_folder", "results")


def _runtime_seconds(resource):
    if "runtime_seconds" in resource.outputs:
        return resource.outputs["runtime_seconds"]
    started = resource.driver_state.get("started_at")
    if resource.state == State.RUNNING and started:
        return round(time.time() - started)
    return None


def _detail_context(request, resource):
    operations = selectors.resource_operations(resource)
    return {
        "resource": resource,
        "events": selectors.resource_timeline(resource),
        "operations": operations,
        "operation": selectors.operation_latest(resource),
        "actions": allowed_actions(resource, request.user),
        "output_tail": output_tail(resource),
        "files_key": files_key(resource),
        "folder_outputs": FOLDER_OUTPUTS,
        "runtime_seconds": _runtime_seconds(resource),
    }


def _parameter_rows(resource):
    """(label from the template's schema, value) for each parameter."""
    properties = (resource.template.parameters_schema or {}).get("properties", {})
    return [
        (properties.get(key, {}).get("title") or key.replace("_", " ").capitalize(), value)
        for key, value in resource.parameters.items()
    ]


def resource_detail(request, resource_id):
    resource = _resource_or_404(request, resource_id)
    context = _detail_context(request, resource)
    context["parameter_rows"] = _parameter_rows(resource)
    return render(request, "provisioning/resource_detail.html", context)


def resource_live(request, resource_id):
    """The part of the detail page that refreshes (htmx) while something is happening."""
    resource = _resource_or_404(request, resource_id)
    return render(request, "provisioning/_resource_live.html", _detail_context(request, resource))


@require_POST
def resource_action(request, resource_id, action):
    resource = _resource_or_404(request, resource_id)
    if action not in ACTIONS:
        raise Http404("No such action")
    try:
        action_run(
            action=action,
            resource=resource,
            user=request.user,
            request=request,
            reason=request.POST.get("reason", "").strip(),
        )
    except PortalError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, ACTIONS[action].done.format(name=resource.name))
    if action == "delete" and not request.htmx:
        return redirect(safe_next(request.POST.get("next"), reverse("provisioning:detail", args=[resource.id])))
    return redirect("provisioning:detail", resource_id=resource.id)


@require_POST  # it is recorded in the audit log: a GET (a prefetch, a crawler, an <img>) must not do that
@require_POST  # it is recorded in the audit log: a GET (a prefetch, a crawler, an <img>) must not do that
def resource_open(request, resource_id):
    """Open a notebook: a recorded redirect to its address with the token."""
    resource = _resource_or_404(request, resource_id)
    try:
        url = services.resource_open_url(resource=resource, user=request.user, request=request)
    except PortalError as exc:
        messages.error(request, exc.message)
        return redirect("provisioning:detail", resource_id=resource.id)
    response = redirect(url)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_POST
def resource_reveal(request, resource_id):
    resource = _resource_or_404(request, resource_id)
    try:
        secrets = services.resource_reveal_secrets(resource=resource, user=request.user, request=request)
    except NotAllowed as exc:
        return HttpResponse(exc.message, status=403)
    except PortalError as exc:
        return HttpResponse(exc.message, status=exc.status_code)
    response = render(request, "provisioning/_secrets.html", {"secrets": secrets, "resource": resource})
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def resource_preview(request, slug):
    """The form's Preview button: Terraform plans run on a worker (slow); the others answer at once."""
    try:
        template = selectors.template_get(slug=slug)
    except NotFound:
        raise Http404("No such template") from None
    team = _request_team(request)
    form = ResourceForm(request.POST, schema=template.parameters_schema, visible=services.visible_parameters(template))
    if team is None or not form.is_valid():
        return render(request, "provisioning/_preview.html", {"text": "Fill in the form first (a name, too)."})
    if template.driver != "terraform":
        from provisioning.services import resource_preview as preview_now

        text = preview_now(template=template, team=team, name=form.cleaned_data["name"], parameters=form.parameters())
        return render(request, "provisioning/_preview.html", {"text": text})
    task_id = preview_enqueue(
        template=template, team=team, user=request.user, name=form.cleaned_data["name"], parameters=form.parameters()
    )
    return render(request, "provisioning/_preview.html", {"task_id": task_id})


def resource_preview_result(request, task_id):
    from celery.result import AsyncResult

    result = AsyncResult(str(task_id))
    if not result.ready():
        return render(request, "provisioning/_preview.html", {"task_id": task_id})
    value = result.result if result.successful() else {"user": request.user.id, "text": "The preview failed."}
    if not isinstance(value, dict) or value.get("user") != request.user.id:
        raise Http404
    return render(request, "provisioning/_preview.html", {"text": value["text"]})


def keeper_modules(request):
    """Keepers: make a self-service template from a Terraform module."""
    import json

    from django.core.exceptions import PermissionDenied

    from catalog.models import ResourceKind
    from portal.permissions import is_keeper
    from provisioning.drivers.terraform.engine import TerraformError
    from provisioning.drivers.terraform.schema import module_schema
    from provisioning.drivers.terraform.templates import available_modules, template_from_module

    if not is_keeper(request.user):
        raise PermissionDenied
    modules = []
    for path in available_modules():
        try:
            fields = list(module_schema(path)["properties"])
        except (ValueError, OSError) as exc:
            fields = [f"cannot be read: {exc}"]
        modules.append({"name": path.name, "fields": fields})
    error = ""
    if request.method == "POST":
        try:
            fixed = json.loads(request.POST.get("fixed") or "{}")
            if not isinstance(fixed, dict):
                raise ValueError("fixed values must be a JSON object")
            template = template_from_module(
                path=request.POST.get("module", ""),
                slug=request.POST.get("slug", ""),
                name=request.POST.get("name", ""),
                kind=request.POST.get("kind", "terraform"),
                fixed=fixed,
                user=request.user,
            )
        except (TerraformError, ValueError) as exc:
            error = getattr(exc, "message", str(exc))
        else:
            messages.success(request, f"The template '{template.name}' is ready; this is its form.")
            return redirect("provisioning:new", slug=template.slug)
    return render(
        request,
        "provisioning/keeper_modules.html",
        {"modules": modules, "kinds": ResourceKind.choices, "error": error, "post": request.POST},
    )


def resource_output(request, resource_id):
    """What the program printed since `offset` (JSON), for the page that follows the output."""
    resource = _resource_or_404(request, resource_id)
    raw = request.GET.get("offset", "")
    offset = int(raw) if raw.isdigit() and len(raw) < 16 else None
    return JsonResponse(output_read(resource, offset=offset))


def resource_output_download(request, resource_id):
    """The whole output of a job as a text file."""
    resource = _resource_or_404(request, resource_id)
    try:
        path = get_driver(resource.driver, resource.kind).output_file(resource)
    except DriverError:
        path = None
    if path is None or not path.exists():
        raise Http404("This resource has no output file to download.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{resource.name}-output.log")
