"""The engine tells listeners (notifications, metrics, usage) about changes once they commit."""

import pytest
from django.db import transaction

from portal.signals import operation_finished, resource_state_changed
from provisioning import services
from provisioning.models import State

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    calls = []

    def on_state(sender, **kwargs):
        calls.append(("state", kwargs["old_state"], kwargs["new_state"]))

    def on_operation(sender, **kwargs):
        calls.append(("operation", kwargs["operation"].action, kwargs["outcome"]))

    resource_state_changed.connect(on_state, dispatch_uid="test-state")
    operation_finished.connect(on_operation, dispatch_uid="test-op")
    yield calls
    resource_state_changed.disconnect(dispatch_uid="test-state")
    operation_finished.disconnect(dispatch_uid="test-op")


def test_state_changes_are_heard_after_commit_only(templates, team_a, alice, heard):
    with transaction.atomic():
        resource = services.resource_request(
            template=templates["postgres-database"], team=team_a, owner=alice, name="db1", parameters={}
        )
        assert heard == []  # nothing before the commit
    assert heard == [("state", None, State.REQUESTED)]
    services.resource_delete(resource=resource, user=alice)
    assert ("state", State.REQUESTED, State.DELETING) in heard
    assert ("operation", "create", "cancelled") in heard


def test_a_rolled_back_change_is_never_heard(templates, team_a, alice, heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.resource_request(
            template=templates["postgres-database"], team=team_a, owner=alice, name="db1", parameters={}
        )
        raise RuntimeError("rolled back")
    assert heard == []
