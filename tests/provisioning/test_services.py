"""The rules of requests: validation, quotas, approvals, permissions. Nothing is left behind on bad input."""

import pytest

from portal.errors import NotAllowed, PortalError
from portal.models import AuditEvent
from provisioning import control, services
from provisioning.models import Operation, Resource, State

pytestmark = pytest.mark.django_db


def _request(templates, team, owner, name="db1", template="postgres-database", **parameters):
    return services.resource_request(
        template=templates[template], team=team, owner=owner, name=name, parameters=parameters
    )


def _nothing_left():
    return Resource.objects.count() == 0 and Operation.objects.count() == 0


def test_request_writes_resource_queued_operation_and_audit(
    templates, team_a, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        resource = _request(templates, team_a, alice, storage_gb=5)
    assert resource.state == State.REQUESTED
    assert resource.parameters == {"storage_gb": 5, "connection_limit": 20}
    assert [op.action for op in resource.operations.all()] == ["create"]
    assert resource.operations.get().state == "queued"
    # The doorbell rings only after commit (the other callback tells listeners of the new request).
    assert [callback.__qualname__ for callback in callbacks].count("enqueue.<locals>.<lambda>") == 1
    assert AuditEvent.objects.filter(action="resource.request", target_id=str(resource.pk)).exists()
    assert resource.events.count() == 1


@pytest.mark.parametrize(
    "name, parameters, field, words",
    [
        ("Bad Name", {}, "name", "lowercase letters"),
        ("db1", {"storage_gb": 0}, "storage_gb", "at least 1"),
        ("db1", {"storage_gb": "lots"}, "storage_gb", "whole number"),
        ("db1", {"colour": "red"}, "colour", "Unknown parameter colour"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_left(templates, team_a, alice, name, parameters, field, words):
    with pytest.raises(PortalError) as caught:
        _request(templates, team_a, alice, name=name, **parameters)
    assert field in caught.value.fields
    assert words in caught.value.fields[field]
    assert caught.value.status_code == 400
    assert _nothing_left()


def test_duplicate_name_in_team_is_refused(templates, team_a, alice):
    _request(templates, team_a, alice)
    with pytest.raises(PortalError) as caught:
        _request(templates, team_a, alice)
    assert caught.value.code == "duplicate_name"
    assert "already has a resource named 'db1'" in caught.value.message
    assert Resource.objects.count() == 1


def test_same_name_in_another_team_is_fine(templates, team_a, team_b, alice, bob):
    _request(templates, team_a, alice)
    _request(templates, team_b, bob)
    assert Resource.objects.count() == 2


def test_name_is_free_again_after_delete(templates, team_a, alice):
    first = _request(templates, team_a, alice)
    Resource.objects.filter(pk=first.pk).update(state=State.DELETED)
    _request(templates, team_a, alice)
    assert Resource.objects.count() == 2


def test_over_quota_is_refused_with_the_numbers(templates, team_a, alice):
    team_a.max_databases = 1
    team_a.save()
    _request(templates, team_a, alice, name="db1")
    with pytest.raises(PortalError) as caught:
        _request(templates, team_a, alice, name="db2")
    assert caught.value.code == "over_quota"
    assert "may use 1 databases and uses 1 now" in caught.value.message
    assert Resource.objects.count() == 1


def test_storage_quota_adds_buckets_and_databases(templates, team_a, alice):
    team_a.max_storage_gb = 30
    team_a.save()
    _request(templates, team_a, alice, name="db1", storage_gb=20)
    with pytest.raises(PortalError) as caught:
        _request(templates, team_a, alice, name="data", template="bucket", storage_gb=11)
    assert "30 GB of storage and uses 20 now; this request needs 11 more" in caught.value.message


def test_not_a_member_cannot_request_for_a_team(templates, team_a, bob):
    with pytest.raises(NotAllowed):
        _request(templates, team_a, bob)
    assert _nothing_left()


def test_disabled_template_is_refused(templates, team_a, alice):
    templates["postgres-database"].enabled = False
    templates["postgres-database"].save()
    with pytest.raises(PortalError, match="switched off"):
        _request(templates, team_a, alice)


def test_approval_rule_holds_large_requests(templates, team_a, alice, keeper):
    team_a.max_storage_gb = 1000
    team_a.save()
    resource = _request(templates, team_a, alice, storage_gb=200)
    assert resource.state == State.AWAITING_APPROVAL
    assert resource.operations.count() == 0
    assert services.allowed_actions(resource, alice) == {"delete"}
    assert {"approve", "reject"} <= services.allowed_actions(resource, keeper)
    with pytest.raises(NotAllowed):
        services.resource_approve(resource=resource, user=alice)
    services.resource_approve(resource=resource, user=keeper, reason="ok for the thesis")
    resource.refresh_from_db()
    assert resource.state == State.REQUESTED
    assert resource.approved_by == keeper
    assert resource.operations.get().action == "create"


def test_reject_needs_a_reason_and_frees_the_name(templates, team_a, alice, keeper):
    team_a.max_storage_gb = 1000
    team_a.save()
    resource = _request(templates, team_a, alice, storage_gb=200)
    with pytest.raises(PortalError, match="Say why"):
        services.resource_reject(resource=resource, user=keeper, reason=" ")
    services.resource_reject(resource=resource, user=keeper, reason="Use a bucket for this much data.")
    resource.refresh_from_db()
    assert resource.state == State.REJECTED
    assert "Use a bucket" in resource.status_message
    _request(templates, team_a, alice, storage_gb=10)  # the name can be used again


def test_only_owner_team_admin_or_keeper_may_act(templates, team_a, alice, alice_admin, keeper, db):
    from tests.factories import MembershipFactory, UserFactory

    colleague = MembershipFactory(user=UserFactory(username="carl"), team=team_a).user
    resource = _request(templates, team_a, alice)
    Resource.objects.filter(pk=resource.pk).update(state=State.READY)
    resource.refresh_from_db()
    assert "delete" in services.allowed_actions(resource, alice)
    assert "delete" in services.allowed_actions(resource, alice_admin)
    assert "delete" in services.allowed_actions(resource, keeper)
    assert services.allowed_actions(resource, colleague) == set()
    with pytest.raises(NotAllowed):
        services.resource_delete(resource=resource, user=colleague)


def test_delete_cancels_queued_work(templates, team_a, alice):
    resource = _request(templates, team_a, alice)
    services.resource_delete(resource=resource, user=alice)
    assert [(op.action, op.state) for op in resource.operations.order_by("id")] == [
        ("create", "cancelled"),
        ("delete", "queued"),
    ]


def test_idempotency_key_returns_the_same_resource(templates, team_a, alice):
    first = services.resource_request(
        template=templates["bucket"], team=team_a, owner=alice, name="data", parameters={}, idempotency_key="k-1"
    )
    second = services.resource_request(
        template=templates["bucket"], team=team_a, owner=alice, name="data", parameters={}, idempotency_key="k-1"
    )
    assert first.pk == second.pk
    with pytest.raises(PortalError, match="different request"):
        services.resource_request(
            template=templates["bucket"], team=team_a, owner=alice, name="other", parameters={}, idempotency_key="k-1"
        )


def test_expiry_parameter_sets_expires_at(templates, team_a, alice):
    resource = _request(templates, team_a, alice, expires_in_days=3)
    assert resource.expires_at is not None


def test_secrets_are_encrypted_at_rest(templates, team_a, alice):
    resource = _request(templates, team_a, alice)
    resource.secrets = {"password": "hunter2-very-secret"}
    resource.save()
    raw = Resource.objects.filter(pk=resource.pk).values_list("secrets_encrypted", flat=True).get()
    assert "hunter2" not in raw
    assert Resource.objects.get(pk=resource.pk).secrets == {"password": "hunter2-very-secret"}


def test_reconcile_deletes_expired_resources(templates, team_a, alice):
    from datetime import timedelta

    from django.utils import timezone

    resource = _request(templates, team_a, alice, expires_in_days=1)
    Resource.objects.filter(pk=resource.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    report = control.reconcile()
    resource.refresh_from_db()
    assert report["expired"] == 1
    assert resource.state == State.DELETING
    assert resource.events.filter(message__contains="reached its expiry date").exists()
    assert control.reconcile()["expired"] == 0  # once
