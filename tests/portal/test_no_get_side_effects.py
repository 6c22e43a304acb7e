"""No GET changes anything (issue 12, point 8): every URL of the portal, asked with GET by five kinds of people,
leaves every table as it was (the audit log included). A GET can be made by a link prefetch, a crawler or an
<img src> on another site; what changes things takes a POST (with CSRF) or an API verb other than GET."""

import pytest
from django.apps import apps
from django.test import Client
from rest_framework.test import APIClient

from tests.portal.test_permissions_matrix import ROLES, _routes, _url, world  # noqa: F401 (world is a fixture)

pytestmark = pytest.mark.django_db
SKIPPED_TABLES = {"django_session"}  # signing in writes a session; pages may note the current team in it


def _snapshot() -> dict:
    state = {}
    for model in apps.get_models():
        if model._meta.db_table in SKIPPED_TABLES or model._meta.proxy:
            continue
        state[model._meta.label] = sorted(repr(row) for row in model.objects.order_by().values_list())
    return state


def _difference(before: dict, after: dict) -> dict:
    return {label: (len(before[label]), len(after[label])) for label in before if before[label] != after[label]}


def _clients(users):
    clients = {}
    for role in ROLES:
        page, api = Client(), APIClient()
        if role != "anonymous":
            page.force_login(users[role])
            api.force_login(users[role])
        clients[role] = (page, api)
    return clients


def test_no_get_changes_anything(world):  # noqa: F811
    clients = _clients(world["users"])  # signed in before the first snapshot (sign-in writes last_login)
    changed = {}
    for route in sorted(set(_routes())):
        url = _url(route, world)
        before = _snapshot()
        for role in ROLES:
            page, api = clients[role]
            (api if route.startswith("api/") else page).get(url)
        if difference := _difference(before, _snapshot()):
            changed[url] = difference
    assert not changed, f"GET changed the database (table: rows before, after): {changed}"


def test_opening_a_notebook_or_revealing_credentials_takes_a_post(world):  # noqa: F811
    from portal.models import AuditEvent

    page, api = _clients(world["users"])["scientist_a"]
    resource = world["resource"]
    assert api.get(f"/api/v1/resources/{resource.pk}/credentials/").status_code == 405
    assert page.get(f"/resources/{resource.pk}/open/").status_code == 405
    assert not AuditEvent.objects.filter(action__in=["resource.reveal", "resource.open"]).exists()
    response = api.post(f"/api/v1/resources/{resource.pk}/credentials/")
    assert response.status_code == 200 and response.json()["credentials"]["secret_access_key"] == "SK"
    assert AuditEvent.objects.filter(target_id=str(resource.pk)).exists()
