"""The request side: every write a person (or the control loop on their behalf) asks for, with its rules.

Requests, decisions (approve, reject), lifecycle actions (stop, start, cancel, retry, reapply, delete, forget),
reveals. Pages, the API, the admin and the control loop call these; they hold no rules of their own. Who may do
what lives in policy.py; running operations in engine.py; the control loop in control.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import Template
from portal.audit import audit_record
from portal.errors import NotAllowed, PortalError
from portal.models import Team
from portal.permissions import can_use_team, is_keeper
from provisioning import doorbell
from provisioning.drivers import DriverError, get_driver
from provisioning.engine import after_transition, event, new_operation
from provisioning.models import Event, OperationState, PooledNotebook, Resource
from provisioning.parameters import name_error, parameters_validate
from provisioning.policy import allowed_actions, can_manage, request_checks_run, require_action  # noqa: F401
from provisioning.quotas import quota_excess, resource_usage
from provisioning.states import RUNNING_STATE, Action, State

logger = logging.getLogger(__name__)


# Requests ---------------------------------------------------------------------------------------------------------


def resource_request(
    *, template: Template, team: Team, owner, name: str, parameters: dict, idempotency_key: str = "", request=None
) -> Resource:
    """Validate a request, check quotas and approval, write the resource and its first operation."""
    if idempotency_key:
        existing = Resource.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
        if existing:
            return _same_request(existing, template, team, name)
    if not template.enabled:
        raise PortalError(
            f"The template '{template.name}' is switched off; pick another one.", code="template_disabled"
        )
    driver = get_driver(template.driver, template.resource_kind)
    if not driver.available():
        raise PortalError(
            f"'{template.name}' is not offered here: the portal has no {template.driver} cluster configured.",
            code="template_unavailable",
        )
    if problem := getattr(driver, "offer_problem", lambda: None)():
        raise PortalError(
            f"'{template.name}' is not offered on this machine now. {problem}", code="template_unavailable"
        )
    if not can_use_team(owner, team):
        raise NotAllowed(f"You are not a member of the team '{team.name}'.")
    if not isinstance(parameters, dict):
        raise PortalError(
            'The parameters must be an object of names and values, e.g. {"storage_gb": 5}.',
            code="invalid",
            fields={"parameters": "Expected an object of names and values."},
        )
    hidden_parameters_refuse(template, parameters)
    errors = {}
    if problem := name_error(name):
        errors["name"] = problem
    clean, parameter_errors = parameters_validate(template.parameters_schema, parameters)
    errors.update(parameter_errors)
    clean = parameters_merged(template, clean)
    if not errors:
        errors.update(driver.validate(clean, team=team, config=template.config))
    if errors:
        raise PortalError(next(iter(errors.values())), code="invalid", fields=errors)
    if conflicts := driver.conflicts(clean, team=team, config=template.config):
        raise PortalError(next(iter(conflicts.values())), code="conflict", fields=conflicts, status_code=409)
    request_checks_run(team=team)  # e.g. a team past its monthly budget (with refusal on) gets a clear 400

    needs_approval = template.needs_approval(clean)
    try:
        with transaction.atomic():
            Team.objects.select_for_update().get(pk=team.pk)  # one quota check at a time per team
            if Resource.objects.visible().filter(team=team, name=name).exclude(state=State.REJECTED).exists():
                raise PortalError(
                    f"Your team already has a resource named '{name}'. Pick another name, or delete the old one first.",
                    code="duplicate_name",
                    fields={"name": f"'{name}' is taken in your team."},
                    status_code=409,
                )
            if excess := quota_excess(
                team, resource_usage(template.driver, template.resource_kind, clean, State.REQUESTED, template.config)
            ):
                raise PortalError(excess, code="over_quota", status_code=409)
            inputs = _secret_inputs(template, clean)
            resource = Resource(
                team=team,
                owner=owner,
                template=template,
                template_version=template.version,
                kind=template.resource_kind,
                driver=template.driver,
                name=name,
                parameters=clean,
                idempotency_key=idempotency_key,
                state=State.AWAITING_APPROVAL if needs_approval else State.REQUESTED,
                status_message="Waiting for a Keeper to approve this request."
                if needs_approval
                else "Waiting for a worker to start.",
                expires_at=_expiry(clean),
            )
            pooled = None if needs_approval else _pooled_take(template, team, clean)
            if pooled is not None:  # a server started ahead of demand: the resource becomes it (id, folder, token)
                resource.id, resource.driver_state = pooled.id, pooled.driver_state
                inputs = {**inputs, **pooled.secrets}
            resource.secrets = inputs
            resource.save()
            event(resource, f"Requested by {owner.get_username()} from the template '{template.name}'.")
            if pooled is not None:
                event(resource, "Took a notebook server started ahead of time: ready in a moment.")
                doorbell.pool_refill()
            if needs_approval:
                event(resource, "This request needs a Keeper's approval; you will see the decision here.")
            else:
                new_operation(resource, Action.CREATE, owner)
            audit_record(
                actor=owner,
                action="resource.request",
                target=resource,
                request=request,
                data={"template": template.slug, "parameters": clean, "secret_inputs": sorted(inputs)},
            )
    except IntegrityError:
        if idempotency_key:
            existing = Resource.objects.filter(owner=owner, idempotency_key=idempotency_key).first()
            if existing:
                return _same_request(existing, template, team, name)
        raise PortalError(
            f"Your team already has a resource named '{name}'. Pick another name.",
            code="duplicate_name",
            fields={"name": f"'{name}' is taken in your team."},
            status_code=409,
        ) from None
    return resource


def _pooled_take(template: Template, team: Team, parameters: dict) -> PooledNotebook | None:
    """A ready pooled server of this template and team whose size matches, taken (its row deleted) in the
    request's transaction; None when there is none (the pool is off, empty, or the request asks for another size)."""
    if not template.warm_pool_size:
        return None
    try:
        key = get_driver(template.driver, template.resource_kind).pool_key(parameters)
    except DriverError:
        return None
    if key is None:
        return None
    # Waits for the refill's brief lock on the row (it never holds it across a slow check) rather than skip it.
    pooled = (
        PooledNotebook.objects.select_for_update()
        .filter(template=template, team=team, key=key, state=PooledNotebook.State.READY)
        .order_by("created_at")
        .first()
    )
    if pooled is not None:
        PooledNotebook.objects.filter(pk=pooled.pk).delete()  # (the instance keeps its id, unlike Model.delete)
    return pooled


def hidden_parameters_refuse(template, parameters: dict) -> None:
    """Refuse values for parameters the template does not show: its fixed values and those left off its form."""
    fixed = set(template.defaults or {})
    visible = template.config.get("visible_parameters")
    hidden = sorted(
        key for key in parameters if key in fixed or (visible is not None and key not in visible and key != "name")
    )
    if hidden:
        raise PortalError(
            f"The template '{template.name}' does not let you set {', '.join(hidden)}: "
            + ("it is fixed by the Keepers." if len(hidden) == 1 else "they are fixed by the Keepers.")
            + " Leave it out of your request.",
            code="hidden_parameter",
            fields={key: "This parameter cannot be set for this template." for key in hidden},
        )


def visible_parameters(template) -> list[str] | None:
    """The parameters a form shows: the template's visible list (None: all), never its fixed values."""
    visible = template.config.get("visible_parameters")
    fixed = set(template.defaults or {})
    if not fixed:
        return visible
    names = visible if visible is not None else list((template.parameters_schema or {}).get("properties", {}))
    return [name for name in names if name not in fixed]


def parameters_merged(template, clean: dict) -> dict:
    """The parameters a resource is made with: the user's, then the template's fixed values, which always win."""
    return {**clean, **(template.defaults or {})}


def _secret_inputs(template, parameters: dict) -> dict:
    """Take the values of write-only (sensitive) parameters out of `parameters`, as secrets named var:<name>."""
    hidden = {
        key for key, spec in (template.parameters_schema or {}).get("properties", {}).items() if spec.get("writeOnly")
    }
    return {f"var:{key}": parameters.pop(key) for key in list(parameters) if key in hidden}


def _expiry(parameters):
    days = parameters.get("expires_in_days")
    return timezone.now() + timedelta(days=days) if days else None


def _same_request(existing, template, team, name) -> Resource:
    if existing.template_id != template.id or existing.team_id != team.id or existing.name != name:
        raise PortalError(
            "This Idempotency-Key was already used for a different request; use a new key.",
            code="idempotency_conflict",
            status_code=409,
        )
    return existing


def resource_approve(*, resource: Resource, user, reason: str = "", request=None) -> Resource:
    """A Keeper approves a waiting request: it is queued for creation."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if not is_keeper(user):
            raise NotAllowed("Only Keepers approve requests.")
        require_action(resource, user, "approve")
        resource.state, resource.status_message = State.REQUESTED, "Approved; waiting for a worker to start."
        resource.approved_by, resource.decided_at, resource.decision_reason = user, timezone.now(), reason[:500]
        resource.save(
            update_fields=["state", "status_message", "approved_by", "decided_at", "decision_reason", "updated_at"]
        )
        event(resource, f"Approved by {user.get_username()}" + (f": {reason}" if reason else "."))
        new_operation(resource, Action.CREATE, user)
        audit_record(actor=user, action="resource.approve", target=resource, request=request, data={"reason": reason})
    return resource


def resource_reject(*, resource: Resource, user, reason: str, request=None) -> Resource:
    if not reason.strip():
        raise PortalError(
            "Say why the request is rejected, so the scientist knows what to change.",
            code="invalid",
            fields={"reason": "A reason is required."},
        )
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if not is_keeper(user):
            raise NotAllowed("Only Keepers reject requests.")
        require_action(resource, user, "reject")
        resource.state, resource.status_message = State.REJECTED, f"Rejected: {reason}"[:500]
        resource.approved_by, resource.decided_at, resource.decision_reason = user, timezone.now(), reason[:500]
        resource.save(
            update_fields=["state", "status_message", "approved_by", "decided_at", "decision_reason", "updated_at"]
        )
        event(resource, f"Rejected by {user.get_username()}: {reason}", level=Event.Level.WARNING)
        audit_record(actor=user, action="resource.reject", target=resource, request=request, data={"reason": reason})
    return resource


def _simple_action(resource, user, action: str, op_action: str, state: str, message: str, request):
    """`user` None means the portal itself (reconcile), which may act in any state where the action applies."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if user is not None:
            require_action(resource, user, action)
        resource.state, resource.status_message, resource.warning = state, message, ""
        resource.save(update_fields=["state", "status_message", "warning", "updated_at"])
        event(resource, f"{action.capitalize()} requested by {user.get_username()}." if user else message)
        new_operation(resource, op_action, user)
        audit_record(actor=user, action=f"resource.{action}", target=resource, request=request)
    return resource


def resource_stop(*, resource, user, request=None, message: str = "Stopping...") -> Resource:
    """Stop without losing data (notebooks); start brings it back. `user` None: the control loop (idle culling)."""
    return _simple_action(resource, user, "stop", Action.STOP, State.STOPPING, message, request)


def resource_start(*, resource, user, request=None) -> Resource:
    """Start a stopped notebook again, if the team's quotas and the template's approval rule still allow it."""
    with transaction.atomic():
        Team.objects.select_for_update().get(pk=resource.team_id)  # one quota check at a time per team
        current = Resource.objects.select_related("template", "team").get(pk=resource.pk)
        _start_allowed(current)
        return _simple_action(current, user, "start", Action.START, State.STARTING, "Starting...", request)


def _start_allowed(resource) -> None:
    """What a stopped resource holds no longer counts (GPUs): check again, as for a new request."""
    adding = resource_usage(
        resource.driver, resource.kind, resource.parameters, State.STARTING, resource.template.config
    )
    if excess := quota_excess(resource.team, adding, exclude=resource):
        raise PortalError(excess.replace("this request needs", "starting it needs"), code="over_quota", status_code=409)
    if resource.template.needs_approval(resource.parameters) and resource.approved_by_id is None:
        raise PortalError(
            "Starting this needs a Keeper's approval now (the template's rules changed). Ask the Keepers, or "
            "request a smaller one.",
            code="needs_approval",
            status_code=409,
        )


def resource_cancel(*, resource, user, request=None) -> Resource:
    """End a running or queued job for good; its log and folder are kept until it is deleted."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        require_action(resource, user, "cancel")
        queued = list(resource.operations.filter(state=OperationState.QUEUED))
        for operation in queued:
            operation.cancel(f"Cancelled by {user.get_username()}.")
        if resource.state == State.QUEUED:  # it never started: nothing to stop
            resource.state, resource.status_message = State.CANCELLED, "Cancelled before it started."
            resource.save(update_fields=["state", "status_message", "updated_at"])
            event(resource, f"Cancelled by {user.get_username()} while waiting.")
            after_transition(resource)
        else:
            resource.state, resource.status_message = State.STOPPING, "Cancelling..."
            resource.save(update_fields=["state", "status_message", "updated_at"])
            event(resource, f"Cancel requested by {user.get_username()}.")
            new_operation(resource, Action.STOP, user)
        audit_record(actor=user, action="resource.cancel", target=resource, request=request)
    return resource


def resource_open_url(*, resource, user, request=None) -> str:
    """The address that opens a notebook, token included; for those who may manage it, and recorded."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can open this notebook.")
    url = resource.secrets.get("url_with_token")
    if not url and resource.outputs.get("url") and resource.secrets.get("token"):  # an address known once running
        url = f"{resource.outputs['url']}?token={resource.secrets['token']}"
    driver = get_driver(resource.driver, resource.kind)
    if resource.state != State.READY or not (url or hasattr(driver, "login_url")):
        raise PortalError("This notebook is not running; start it first.", code="not_running", status_code=409)
    if hasattr(driver, "login_url"):  # a one-time link: the notebook's token never lands in an address bar
        url = driver.login_url(resource)
    audit_record(actor=user, action="resource.open", target=resource, request=request)
    return url


def resource_update(*, resource, parameters: dict, user, request=None) -> Resource:
    """New parameters for a ready resource (resources as code), made real by the driver's apply on a worker."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can change this resource.")
    with transaction.atomic():
        locked = Resource.objects.select_for_update().get(pk=resource.pk)
        if locked.state != State.READY:
            raise PortalError(
                f"'{locked.name}' is {locked.get_state_display().lower()}; change it when it is ready.",
                code="invalid_state",
                status_code=409,
            )
        old = dict(locked.parameters)
        locked.parameters = parameters
        locked.state, locked.status_message = State.PROVISIONING, "Applying the new parameters..."
        locked.save(update_fields=["parameters", "state", "status_message", "updated_at"])
        event(locked, f"Parameters changed by {user.get_username()}.")
        new_operation(locked, Action.APPLY, user)
        audit_record(
            actor=user,
            action="resource.update",
            target=locked,
            request=request,
            data={"from": {k: old.get(k) for k in parameters}, "to": parameters},
        )
    return locked


def resource_reapply(*, resource, user, request=None) -> Resource:
    """Apply the template again, bringing drifted infrastructure back to what it should be."""
    return _simple_action(resource, user, "reapply", Action.APPLY, State.PROVISIONING, "Applying again...", request)


def resource_preview(*, template: Template, team: Team, name: str, parameters: dict) -> str:
    """What a request with these parameters would make, without making anything."""
    import uuid

    clean, errors = parameters_validate(template.parameters_schema, parameters)
    if errors:
        return "Fix the form first: " + "; ".join(errors.values())
    resource = Resource(
        id=uuid.uuid4(),
        team=team,
        template=template,
        kind=template.resource_kind,
        driver=template.driver,
        name=name,
        parameters=parameters_merged(template, clean),
    )
    resource.secrets = _secret_inputs(template, resource.parameters)
    try:
        return get_driver(template.driver, template.resource_kind).preview(resource) or "Nothing to show."
    except DriverError as exc:
        return f"The preview failed: {exc.message}"


def resource_retry(*, resource, user, request=None) -> Resource:
    """Run the action that failed again (create, start, stop or delete)."""
    last = resource.operations.order_by("-created_at", "-id").first()
    action = last.action if last else Action.CREATE
    if resource.state == State.CANCELLED or action == Action.STOP and resource.kind == "training_job":
        action = Action.CREATE  # run the cancelled job again
    return _simple_action(
        resource, user, "retry", action, RUNNING_STATE.get(action, State.REQUESTED), "Retrying...", request
    )


def resource_delete(*, resource, user=None, request=None, reason: str = "") -> Resource:
    """Delete from any state: queued work is cancelled, then the driver removes what exists."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if user is not None:
            require_action(resource, user, "delete")
        elif resource.state in (State.DELETED, State.DELETING, State.REJECTED):
            return resource
        if resource.state == State.REJECTED:  # nothing was ever made: it is simply cleared away
            resource.state, resource.status_message, resource.deleted_at = State.DELETED, "Deleted.", timezone.now()
            resource.save(update_fields=["state", "status_message", "deleted_at", "updated_at"])
            event(resource, f"Deleted by {user.get_username()}; it was rejected, so nothing had been made.")
            audit_record(actor=user, action="resource.delete", target=resource, request=request)
            return resource
        # skip_locked: one a worker is claiming right now is left to it (it sees the delete and stands down).
        for operation in resource.operations.filter(state=OperationState.QUEUED).select_for_update(skip_locked=True):
            operation.cancel("Cancelled: the resource is being deleted.")
        resource.state, resource.status_message = State.DELETING, "Deleting..."
        resource.save(update_fields=["state", "status_message", "updated_at"])
        who = user.get_username() if user else "the portal"
        event(resource, f"Delete requested by {who}" + (f": {reason}" if reason else "."))
        new_operation(resource, Action.DELETE, user)
        audit_record(
            actor=user,
            action="resource.delete",
            target=resource,
            request=request,
            data={"reason": reason} if reason else None,
        )
    return resource


def resource_forget(*, resource, user, request=None) -> Resource:
    """A Keeper's last way out for a resource whose infrastructure cannot be reached (its delete keeps failing): the
    portal stops tracking it. Audited, with a warning of what may be left behind."""
    with transaction.atomic():
        resource = Resource.objects.select_for_update().get(pk=resource.pk)
        if not is_keeper(user):
            raise NotAllowed("Only Keepers can make the portal forget a resource.")
        require_action(resource, user, "forget")
        for operation in resource.operations.filter(state=OperationState.QUEUED):
            operation.cancel("Cancelled: a Keeper made the portal forget the resource.")
        left_behind = {k: v for k, v in (resource.driver_state or {}).items() if k != "version"}
        warning = (
            f"Forgotten by {user.get_username()} without deleting its infrastructure: whatever the "
            f"{resource.driver} driver made for it may still exist"
            + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(left_behind.items())[:6])})" if left_behind else "")
            + ". Remove it by hand if it does."
        )
        resource.state, resource.status_message, resource.deleted_at = State.DELETED, "Forgotten.", timezone.now()
        resource.outputs, resource.secrets = {}, {}
        resource.warning = warning[:300]
        resource.save()
        event(resource, warning, level=Event.Level.WARNING)
        after_transition(resource)
        audit_record(
            actor=user,
            action="resource.forget",
            target=resource,
            request=request,
            data={"left_behind": left_behind, "warning": warning},
        )
    return resource


def resource_reveal_secrets(*, resource, user, request=None) -> dict:
    """The resource's secrets, for the owner, a team admin or a Keeper; every reveal is audited."""
    if not can_manage(user, resource):
        raise NotAllowed("Only the owner, a team admin or a Keeper can see these credentials.")
    if resource.state in (State.DELETED, State.DELETING) or not resource.has_secrets:
        raise PortalError("This resource has no credentials to show.", code="no_secrets", status_code=404)
    audit_record(
        actor=user,
        action="resource.reveal",
        target=resource,
        request=request,
        data={"fields": sorted(resource.secrets)},
    )
    event(resource, f"Credentials shown to {user.get_username()}.")
    return resource.secrets


# Reconcile ---------------------------------------------------------------------------------------------------------
