"""The warm pool: notebook servers started ahead of demand, so a request is ready in well under a second.

Keepers set a pool size per template (`Template.warm_pool_size`, 0 = off). For every team active within
`NOTEBOOK_POOL_IDLE_MINUTES` (a member signed in, or the team asked for something), `refill` keeps that many servers
of the template's default size started, each sandboxed as the team's account exactly as a requested notebook would
be (the driver's own apply, for a resource id chosen in advance). A pooled server counts toward nothing (no quota, no
usage, no cost) until a request adopts it (`services.resource_request`): the new resource takes the pooled server's
id, hence its folder, port and token, and its create operation finds the server answering and adopts it.

`refill` runs on beat every `NOTEBOOK_POOL_REFILL_SECONDS` and is rung after each adoption; while servers are still
starting it rings itself again a second later (no worker waits). Servers of teams idle past the limit, of templates
whose pool shrank or was turned off, and servers that died or never answered are stopped and their folders removed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Template
from portal.locks import advisory_try_lock
from portal.models import Team
from provisioning import doorbell
from provisioning.drivers import DriverError, get_driver, registered
from provisioning.models import PooledNotebook, Resource
from provisioning.parameters import parameters_validate
from provisioning.services import parameters_merged

logger = logging.getLogger(__name__)

POOL_LOCK = 0x19F001  # advisory lock key: one refill at a time
STARTS_PER_PASS = 2  # a refill starts at most this many servers, so a burst of teams does not start dozens at once
START_TIMEOUT = timedelta(seconds=180)  # a pooled server that has not answered by then is discarded


def pool_parameters(template: Template) -> dict:
    """The parameters of a pooled server: the template's defaults, as a request that changes nothing would have."""
    clean, _errors = parameters_validate(template.parameters_schema, {})
    return parameters_merged(template, clean)


def _stand_in(pooled: PooledNotebook) -> Resource:
    """An unsaved resource with the pooled server's id: the driver makes and ends it as it would the real one."""
    template = pooled.template
    resource = Resource(
        id=pooled.id,
        team=pooled.team,
        template=template,
        template_version=template.version,
        kind=template.resource_kind,
        driver=template.driver,
        name="warm-pool",
        parameters=pooled.parameters,
        driver_state=pooled.driver_state,
    )
    resource.secrets = pooled.secrets
    return resource


def _active_teams() -> list[Team]:
    since = timezone.now() - timedelta(minutes=settings.NOTEBOOK_POOL_IDLE_MINUTES)
    return list(
        Team.objects.filter(Q(memberships__user__last_login__gte=since) | Q(resources__created_at__gte=since))
        .distinct()
        .order_by("pk")
    )


def _pooled_templates() -> list[Template]:
    poolable = {name for (name, kind), cls in registered().items() if kind == "notebook" and cls.can_pool}
    return [
        t
        for t in Template.objects.filter(enabled=True, warm_pool_size__gt=0, resource_kind="notebook")
        if t.driver in poolable and get_driver(t.driver, t.resource_kind).available()
    ]


def discard(pooled: PooledNotebook, why: str) -> None:
    """Stop a pooled server and remove its folder (the row is already gone or goes now)."""
    PooledNotebook.objects.filter(pk=pooled.pk).delete()
    try:
        get_driver(pooled.template.driver, pooled.template.resource_kind).destroy(_stand_in(pooled), logger.debug)
    except DriverError as exc:
        logger.warning("could not end pooled notebook %s: %s", pooled.pk, exc.message)
    logger.info("pooled notebook %s of %s/%s discarded: %s", pooled.pk, pooled.team.slug, pooled.template.slug, why)


def _start(template: Template, team: Team) -> PooledNotebook:
    parameters = pool_parameters(template)
    driver = get_driver(template.driver, template.resource_kind)
    pooled = PooledNotebook(template=template, team=team, key=driver.pool_key(parameters) or "", parameters=parameters)
    result = driver.apply(_stand_in(pooled), logger.debug)  # starts the server and returns (nothing waits)
    pooled.driver_state, pooled.secrets = result.state, result.secrets
    pooled.save()
    return pooled


def refill() -> dict:
    """Check the pooled servers, discard what is no longer wanted or alive, and start what is missing."""
    report = {"ready": 0, "starting": 0, "started": 0, "discarded": 0}
    with advisory_try_lock(POOL_LOCK) as got:
        if not got:
            return {**report, "skipped": 1}
        _refill(report)
    if report["starting"] or report["started"]:
        doorbell.pool_refill(countdown=1.0)  # look again soon, to mark them ready
    return report


def _refill(report: dict) -> None:
    templates = _pooled_templates()
    teams = _active_teams()
    wanted = {(t.pk, team.pk): t.warm_pool_size for t in templates for team in teams}
    kept: dict[tuple, int] = defaultdict(int)
    now = timezone.now()
    active = {t.pk for t in teams}
    # Ready ones first ("ready" < "starting"), oldest first: a pool that shrinks keeps its ready servers.
    for pooled in PooledNotebook.objects.select_related("template", "team").order_by("state", "created_at"):
        pair = (pooled.template_id, pooled.team_id)
        status, why = "", ""
        if kept[pair] >= wanted.get(pair, 0):
            why = "the team has been idle" if pair[1] not in active else "the pool is smaller now"
        else:
            # Asked before taking the row's lock (it may take a second): a request adopting it is never kept waiting.
            driver = get_driver(pooled.template.driver, pooled.template.resource_kind)
            status = driver.pool_status(pooled.driver_state, pooled.secrets.get("token", ""))
            if status == "dead" or (status == "starting" and now - pooled.created_at > START_TIMEOUT):
                why = "it stopped or never answered"
        with transaction.atomic():
            locked = PooledNotebook.objects.select_for_update(skip_locked=True).filter(pk=pooled.pk).first()
            if locked is None:
                continue  # adopted meanwhile, or being adopted right now
            if why:
                locked.delete()
                transaction.on_commit(lambda p=pooled, w=why: discard(p, w))
                report["discarded"] += 1
                continue
            if status == "ready" and locked.state != PooledNotebook.State.READY:
                PooledNotebook.objects.filter(pk=pooled.pk).update(state=PooledNotebook.State.READY, ready_at=now)
        kept[pair] += 1
        report["ready" if status == "ready" else "starting"] += 1
    by_pk = {t.pk: t for t in templates}
    team_by_pk = {t.pk: t for t in teams}
    for (template_pk, team_pk), size in wanted.items():
        while kept[(template_pk, team_pk)] < size and report["started"] < STARTS_PER_PASS:
            try:
                _start(by_pk[template_pk], team_by_pk[team_pk])
            except DriverError as exc:
                logger.warning("could not start a pooled notebook for %s: %s", team_by_pk[team_pk].slug, exc.message)
                break
            kept[(template_pk, team_pk)] += 1
            report["started"] += 1
