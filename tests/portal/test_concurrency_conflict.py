"""Two requests colliding in the database (a deadlock) are a 409 "try again", not the 503 of a lost database.

Found by the outside fuzz run: a start and a worker's claim of the same resource locked the team and the resource
in opposite orders; PostgreSQL broke the deadlock and the portal said it could not reach its database."""

import threading

import psycopg
import pytest
from django.db import connection

from portal.errors import concurrency_conflict
from portal.models import Team

pytestmark = pytest.mark.django_db(transaction=True)


def _deadlock() -> BaseException:
    """A real deadlock: this connection and another lock two teams in opposite orders."""
    first, second = Team.objects.create(slug="one", name="One"), Team.objects.create(slug="two", name="Two")
    params = connection.get_connection_params()
    other = psycopg.connect(**params, autocommit=False)
    holding, caught = threading.Event(), []

    def other_side():
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM portal_team WHERE id = %s FOR UPDATE", [second.pk])
            holding.set()
            try:
                cursor.execute("SELECT 1 FROM portal_team WHERE id = %s FOR UPDATE", [first.pk])
            except psycopg.Error as exc:
                caught.append(exc)
        other.rollback()

    from django.db import transaction

    thread = threading.Thread(target=other_side)
    try:
        with transaction.atomic():
            Team.objects.select_for_update().get(pk=first.pk)
            thread.start()
            assert holding.wait(60)
            Team.objects.select_for_update().get(pk=second.pk)
    except Exception as exc:  # noqa: BLE001 (this side may be the one PostgreSQL chose)
        caught.append(exc)
    thread.join(60)
    other.close()
    assert caught, "no deadlock happened"
    return caught[0]


def test_a_deadlock_is_a_conflict_not_an_outage(rf):
    from portal.views import server_error

    exc = _deadlock()
    assert concurrency_conflict(exc)
    try:
        raise exc
    except Exception:  # noqa: BLE001 (server_error reads the exception being handled)
        page = server_error(rf.get("/resources/"))
        api = server_error(rf.get("/api/v1/resources/"))
    assert page.status_code == 409 and b"at the same moment" in page.content
    assert api.status_code == 409 and b'"conflict"' in api.content
    assert not concurrency_conflict(psycopg.OperationalError("connection refused"))
