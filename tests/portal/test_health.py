import pytest

from portal.tasks import ping


def test_healthz_is_public(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.worker
def test_readyz_ok_with_database_redis_and_worker(client, live_worker, keeper):
    assert client.get("/readyz").json() == {"status": "ok"}  # anonymous callers learn only ok or unavailable
    client.force_login(keeper)
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"] == {"database": "ok", "redis": "ok", "workers": "ok", "sandbox": "ok"}


@pytest.mark.worker
def test_readyz_503_without_worker(client, live_worker, keeper, alice, settings):
    live_worker.stop()
    try:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}  # not which part is down
        client.force_login(alice)
        assert client.get("/readyz").json() == {"status": "unavailable"}  # a scientist neither
        settings.METRICS_TOKEN = "monitoring-secret"  # a monitoring system with the metrics token sees them
        client.logout()
        bearer = client.get("/readyz", HTTP_AUTHORIZATION="Bearer monitoring-secret").json()
        assert bearer["checks"]["workers"] == "no Celery worker answered"
        assert "checks" not in client.get("/readyz", HTTP_AUTHORIZATION="Bearer wrong").json()
        client.force_login(keeper)
        assert client.get("/readyz").json()["checks"]["workers"] == "no Celery worker answered"
    finally:
        live_worker.start()


@pytest.mark.worker
def test_celery_round_trip_through_redis_to_a_real_worker(live_worker):
    result = ping.delay({"n": 42})
    reply = result.get(timeout=30)
    assert reply["echo"] == {"n": 42}
    assert reply["database"].startswith("test_")
    assert reply["worker"].startswith("test")


def test_tasks_are_configured_for_safety(settings):
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
