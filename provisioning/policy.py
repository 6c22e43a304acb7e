"""Who may do what to a resource in which state: pure functions of the resource, the user and the driver's abilities.

Pages, the API and the services all ask here; nothing in this module writes.
"""

from __future__ import annotations

from portal.errors import NotAllowed, PortalError
from portal.permissions import can_admin_team, is_keeper
from provisioning.drivers import DriverError, get_driver
from provisioning.states import State


def can_manage(user, resource) -> bool:
    """The owner, an admin of the resource's team, or a Keeper may change a resource and see its secrets."""
    return resource.owner_id == user.id or can_admin_team(user, resource.team)


def allowed_actions(resource, user) -> set[str]:
    """The buttons a user sees for a resource in its current state."""
    actions: set[str] = set()
    if resource.state == State.DELETED:
        return actions
    if resource.state == State.REJECTED:  # a rejected request only waits to be cleared away
        return {"delete"} if can_manage(user, resource) else actions
    if is_keeper(user) and resource.state == State.FAILED:
        # The last way out when the infrastructure cannot be reached: the portal forgets it (audited, with a warning).
        actions.add("forget")
    if is_keeper(user) and resource.state == State.AWAITING_APPROVAL:
        actions |= {"approve", "reject"}
    if not can_manage(user, resource):
        return actions
    try:
        driver = get_driver(resource.driver, resource.kind)
    except DriverError:
        driver = None
    if driver and driver.can_stop and resource.state == State.READY:
        actions.add("stop")
    if driver and driver.can_stop and resource.state in (State.STOPPED, State.FAILED):
        actions.add("start")
    if driver and driver.can_cancel and resource.state in (State.RUNNING, State.QUEUED, State.PROVISIONING):
        actions.add("cancel")
    if resource.state == State.FAILED and not (driver and driver.can_stop):
        actions.add("retry")
    if resource.state == State.CANCELLED:  # run the cancelled job again, in the same folder
        actions.add("retry")
    if driver and driver.can_reapply and resource.state == State.READY:
        actions.add("reapply")
    if resource.state != State.DELETING:
        actions.add("delete")
    if resource.has_secrets and resource.state not in (State.DELETING,):
        actions.add("reveal")
    return actions


def require_action(resource, user, action: str) -> None:
    if action not in allowed_actions(resource, user):
        if not can_manage(user, resource) and action not in ("approve", "reject"):
            raise NotAllowed("Only the owner, a team admin or a Keeper can do this.")
        raise PortalError(
            f"You cannot {action} this resource while it is {resource.get_state_display().lower()}.",
            code="invalid_state",
            status_code=409,
        )


# The actions a page or the API may ask for by name; each maps to the service of the same name in services.py
# (resource_<action>). Pages and API both dispatch through provisioning.actions.ACTIONS.
ACTION_NAMES = ("stop", "start", "cancel", "retry", "reapply", "delete", "forget", "approve", "reject")
DECISIONS = frozenset({"approve", "reject"})
