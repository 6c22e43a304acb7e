"""Usage recorded from the lifecycle (the engine's resource_state_changed signal), prices, budgets, pages, CSV."""

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from portal.models import AuditEvent
from provisioning.models import Resource, State
from tests.factories import make_resource
from usage import services
from usage.models import Budget, BudgetWarning, Meter, Price, UsageDay

T0 = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)


def _move(resource, state):
    """What the engine does: save the new state; the signal reaches the usage receiver after commit."""
    resource.state = state
    resource.save()


@pytest.mark.django_db(transaction=True)
def test_a_one_gpu_job_of_sixty_seconds_adds_a_sixtieth_of_a_gpu_hour(templates, team_a, alice):
    """The engine's own state changes drive the meter; only its start is moved 60 s back instead of sleeping."""
    Price.objects.create(template=templates["training-job"], size="1-gpu", per_hour=Decimal("3.00"))
    job = make_resource(
        templates["training-job"], team_a, alice, name="gpu1", parameters={"gpus": 1}, state=State.PROVISIONING
    )
    _move(job, State.RUNNING)
    meter = Meter.objects.get(resource=job)
    assert meter.running and meter.gpus == 1
    Meter.objects.filter(pk=meter.pk).update(counted_until=meter.counted_until - timedelta(seconds=60))
    _move(job, State.SUCCEEDED)
    day = UsageDay.objects.get(team=team_a, resource=job)
    assert day.gpu_hours == pytest.approx(1 / 60, rel=0.05)
    assert day.cpu_hours == pytest.approx(1 / 60, rel=0.05)
    assert day.cost == pytest.approx(Decimal("0.05"), abs=Decimal("0.0025"))
    assert day.owner == alice and day.kind == "training_job"
    services.usage_settle(at=timezone.now() + timedelta(hours=5))  # ended: settling and deleting add nothing
    _move(job, State.DELETING)
    _move(job, State.DELETED)
    assert UsageDay.objects.get(pk=day.pk).gpu_hours == pytest.approx(day.gpu_hours)


@pytest.mark.django_db(transaction=True)
def test_a_notebook_counts_only_while_it_runs_and_its_volume_until_deleted(templates, team_a, alice):
    template = templates["jupyter-notebook-k8s"]
    notebook = make_resource(template, team_a, alice, name="nb", parameters={"profile": "gpu-1", "storage_gb": 24})
    services.usage_record(resource=notebook, new_state=State.READY, at=T0)
    services.usage_record(resource=notebook, new_state=State.STOPPED, at=T0 + timedelta(hours=2))
    services.usage_record(resource=notebook, new_state=State.DELETING, at=T0 + timedelta(hours=12))
    day = UsageDay.objects.get(resource=notebook)
    assert day.gpu_hours == pytest.approx(2.0)  # the gpu-1 profile: 1 GPU, 8 cores, 64 Gi
    assert day.cpu_hours == pytest.approx(16.0)
    assert day.memory_gb_hours == pytest.approx(128.0)
    assert day.storage_gb_days == pytest.approx(24 * 12 / 24)


@pytest.mark.django_db(transaction=True)
def test_usage_is_cut_at_midnight_and_settled_while_it_runs(templates, team_a, alice):
    bucket = make_resource(templates["bucket"], team_a, alice, name="data", parameters={"storage_gb": 48})
    late = datetime(2026, 11, 10, 18, 0, tzinfo=UTC)
    services.usage_record(resource=bucket, new_state=State.READY, at=late)
    assert services.usage_settle(at=late + timedelta(hours=12)) == 1  # 06:00 the next day, still there
    days = {d.day.day: d.storage_gb_days for d in UsageDay.objects.filter(resource=bucket)}
    assert days == {10: pytest.approx(48 * 6 / 24), 11: pytest.approx(48 * 6 / 24)}
    assert Meter.objects.get(resource=bucket).counted_until == late + timedelta(hours=12)


@pytest.mark.django_db
def test_the_form_shows_the_estimate_of_the_price_table(signed_in, templates, team_a, alice):
    template = templates["jupyter-notebook"]
    Price.objects.create(template=template, size="", per_hour=Decimal("0.30"))
    Price.objects.create(template=template, size="1-gpu", per_hour=Decimal("1.20"))
    Budget.objects.create(team=team_a, monthly=Decimal("200"))
    resource = make_resource(templates["bucket"], team_a, alice, name="old")
    UsageDay.objects.create(
        day=timezone.now().date(), resource=resource, team=team_a, owner=alice, kind="bucket", cost=Decimal("34")
    )
    client = signed_in(alice)
    page = client.get(f"/resources/new/{template.slug}/").content.decode()
    assert 'data-per-hour="0.30"' in page  # the defaults: no GPU
    assert "used <strong>34.00</strong> of its 200.00 this month" in page
    partial = client.get(f"/usage/estimate/{template.slug}/", {"gpus": "1"}).content.decode()
    assert 'data-per-hour="1.20"' in partial
    assert 'data-per-hour="0.30"' in client.get(f"/usage/estimate/{template.slug}/", {"gpus": "x"}).content.decode()


@pytest.mark.django_db
def test_a_team_over_its_budget_with_refusal_on_gets_a_clear_400_and_nothing_is_made(templates, team_a, alice, api):
    Budget.objects.create(team=team_a, monthly=Decimal("10"), refuse_over=True)
    old = make_resource(templates["bucket"], team_a, alice, name="old")
    UsageDay.objects.create(
        day=timezone.now().date(), resource=old, team=team_a, owner=alice, kind="bucket", cost=Decimal("12.50")
    )
    before = Resource.objects.count()
    body = {"template": "postgres-database", "name": "more", "parameters": {}}
    answer = api(alice).post("/api/v1/resources/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["error"] == "over_budget"
    assert "spent 12.50 of its 10.00 budget this month" in answer.json()["message"]
    assert Resource.objects.count() == before
    Budget.objects.filter(team=team_a).update(refuse_over=False)  # warnings only: the request goes through
    assert api(alice).post("/api/v1/resources/", body, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_warnings_at_80_and_100_percent_once_a_month(templates, team_a, alice):
    Budget.objects.create(team=team_a, monthly=Decimal("10"))
    Price.objects.create(template=templates["training-job"], size="", per_hour=Decimal("1"))
    job = make_resource(templates["training-job"], team_a, alice, name="long", state=State.PROVISIONING)
    start = timezone.now() - timedelta(hours=12)
    services.usage_record(resource=job, new_state=State.RUNNING, at=start)
    services.usage_settle(at=start + timedelta(hours=8, minutes=30))
    assert set(BudgetWarning.objects.filter(team=team_a).values_list("level", flat=True)) == {80}
    services.usage_settle(at=start + timedelta(hours=11))
    services.usage_settle(at=start + timedelta(hours=11, minutes=30))
    assert sorted(BudgetWarning.objects.filter(team=team_a).values_list("level", flat=True)) == [80, 100]
    assert AuditEvent.objects.filter(team=team_a, action="usage.budget_100").count() == 1


@pytest.mark.django_db
def test_usage_pages_charts_and_csv_are_scoped(signed_in, templates, team_a, team_b, alice, bob, keeper):
    today = timezone.now().date()
    mine = make_resource(templates["bucket"], team_a, alice, name="mine")
    theirs = make_resource(templates["bucket"], team_b, bob, name="theirs")
    UsageDay.objects.create(
        day=today, resource=mine, team=team_a, owner=alice, kind="bucket", storage_gb_days=3, cost=Decimal("1.5")
    )
    UsageDay.objects.create(
        day=today, resource=theirs, team=team_b, owner=bob, kind="notebook", gpu_hours=7, cost=Decimal("9")
    )
    client = signed_in(alice)
    page = client.get("/usage/").content.decode()
    assert "<svg" in page and "<script" not in page.split("<svg")[1].split("</svg>")[0]
    assert "bucket" in page and "notebook" not in page.split("<svg")[1].split("</svg>")[0]
    rows = list(csv.reader(io.StringIO(client.get("/usage/export.csv").content.decode())))
    assert rows[0][:3] == ["day", "team", "owner"] and [r[4] for r in rows[1:]] == ["mine"]
    assert client.get("/usage/keepers/").status_code == 403
    assert client.get("/usage/keepers/export.csv").status_code == 403
    keeper_client = signed_in(keeper)
    everything = list(csv.reader(io.StringIO(keeper_client.get("/usage/keepers/export.csv").content.decode())))
    assert sorted(r[4] for r in everything[1:]) == ["mine", "theirs"]
    assert team_b.name in keeper_client.get("/usage/keepers/").content.decode()


@pytest.mark.worker
@pytest.mark.slow
def test_beat_settles_what_still_runs(templates, team_a, alice, beat_process):
    bucket = make_resource(templates["bucket"], team_a, alice, name="kept", parameters={"storage_gb": 10})
    services.usage_record(resource=bucket, new_state=State.READY, at=timezone.now() - timedelta(hours=6))
    beat_process.start(USAGE_SETTLE_INTERVAL_SECONDS="1")
    deadline = time.monotonic() + 60
    while not UsageDay.objects.filter(resource=bucket).exists():
        assert time.monotonic() < deadline, "beat did not run usage.settle"
        time.sleep(0.2)
    total = sum(d.storage_gb_days for d in UsageDay.objects.filter(resource=bucket))
    assert total >= 10 * 6 / 24 * 0.99
