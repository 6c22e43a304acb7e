"""The places a team's files live, each a root of the file browser: the team folder, each local notebook's and
job's working folder, and each bucket. A root is found only through the user's teams (Keepers see all)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from files.storage import LocalStore, S3Store
from portal.errors import NotFound
from portal.models import Team
from portal.permissions import teams_visible_to
from provisioning.folders import NO_FILES_STATES, RESOURCE_ROOT_PREFIX, resource_folder

TEAM_PREFIX = "team-"
RESOURCE_PREFIX = RESOURCE_ROOT_PREFIX
# Kinds of resources whose files the portal can reach (notebooks and jobs: local, Slurm; Kubernetes jobs' results
# prefix in S3; and buckets).
FILE_KINDS = ("notebook", "training_job", "bucket")


@dataclass
class Root:
    key: str
    label: str
    kind: str  # "team", "notebook", "training_job", "bucket"
    team: Team
    store: LocalStore | S3Store  # or a driver's store of the same shape (a Slurm job's folder on the cluster)
    resource: object | None = None

    @property
    def is_s3(self) -> bool:
        return isinstance(self.store, S3Store)


def team_store(team: Team) -> LocalStore:
    from provisioning.sandbox import team_account, team_folder

    account = team_account(team)
    return LocalStore(team_folder(team), owner=(account.uid, account.gid), create=True)


def s3_client():
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.S3_ENDPOINT_URL,
        aws_access_key_id=settings.S3_ACCESS_KEY_ID,
        aws_secret_access_key=settings.S3_SECRET_ACCESS_KEY,
        region_name=settings.S3_REGION,
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def resource_store(resource) -> LocalStore | S3Store | None:
    where = resource_folder(resource)
    if where is None:
        return None
    mode, place = where
    if mode == "s3":
        # A bucket made on an S3 endpoint the portal no longer has configured: its files cannot be reached.
        bucket, _, prefix = place.partition("/")
        return S3Store(s3_client(), bucket, prefix=prefix) if settings.S3_ENDPOINT_URL else None
    if mode == "driver":  # a cluster's file system: the driver reads it its own way, as the team's account
        from provisioning.drivers import DriverError, get_driver

        try:
            return get_driver(resource.driver, resource.kind).files(resource)
        except DriverError:
            return None
    from provisioning.sandbox import team_account

    account = team_account(resource.team)
    path = Path(place)
    return LocalStore(path, owner=(account.uid, account.gid)) if path.is_dir() else None


def root_key(obj) -> str:
    return f"{TEAM_PREFIX}{obj.slug}" if isinstance(obj, Team) else f"{RESOURCE_PREFIX}{obj.pk}"


def root_get(*, user, key: str) -> Root:
    """The root named `key` if the user may see it; NotFound otherwise (no hint of other teams' folders)."""
    from provisioning.selectors import resource_get

    missing = NotFound("No such folder in your teams.")
    if key.startswith(TEAM_PREFIX):
        team = teams_visible_to(user).filter(slug=key[len(TEAM_PREFIX) :]).first()
        if team is None:
            raise missing
        return Root(key=key, label=f"{team.name} team folder", kind="team", team=team, store=team_store(team))
    if key.startswith(RESOURCE_PREFIX):
        try:
            resource_id = uuid.UUID(key[len(RESOURCE_PREFIX) :])
        except ValueError:
            raise missing from None
        resource = resource_get(user=user, resource_id=resource_id)
        store = resource_store(resource)
        if store is None:
            raise NotFound("This resource has no files the portal can show (yet).")
        label = f"{resource.name} ({resource.get_kind_display().lower()})"
        return Root(key=key, label=label, kind=resource.kind, team=resource.team, store=store, resource=resource)
    raise missing


def roots_list(*, user, team: Team) -> list[Root]:
    """The team folder and every live resource of the team with files, in one query."""
    from provisioning.models import Resource

    roots = [Root(key=root_key(team), label=f"{team.name} team folder", kind="team", team=team, store=None)]
    resources = (
        Resource.objects.filter(team=team, kind__in=FILE_KINDS)
        .exclude(state__in=NO_FILES_STATES)
        .select_related("team")
        .order_by("kind", "name")
    )
    for resource in resources:
        if resource_folder(resource) is not None:
            label = f"{resource.name} ({resource.get_kind_display().lower()})"
            roots.append(
                Root(key=root_key(resource), label=label, kind=resource.kind, team=team, store=None, resource=resource)
            )
    return roots
