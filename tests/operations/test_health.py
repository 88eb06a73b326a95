import app as composition


def test_healthz_reports_the_database_ok(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json["checks"]["database"]["status"] == "ok"


def test_healthz_is_503_when_the_database_is_down(tmp_path):
    settings = composition.Settings.from_env(
        env={},
        instance_path=tmp_path,
        testing=True,
        database_url="postgresql://postgres@127.0.0.1:1/none",  # nothing listens on port 1
    )
    flask_app = composition.create_app(settings)
    resp = flask_app.test_client().get("/healthz")
    composition.engine_of(flask_app).dispose()
    assert resp.status_code == 503
    assert resp.json["checks"]["database"]["status"] == "down"


def test_healthz_checks_the_broker_when_one_is_configured(tmp_path, database_url, engine):
    settings = composition.Settings.from_env(
        env={},
        instance_path=tmp_path,
        testing=True,
        database_url=database_url,
        celery_broker_url="redis://127.0.0.1:1/0",
    )
    flask_app = composition.create_app(settings)
    resp = flask_app.test_client().get("/healthz")
    composition.engine_of(flask_app).dispose()
    assert resp.status_code == 503 and resp.json["checks"]["broker"]["status"] == "down"


def test_metrics_count_requests_in_prometheus_format(client):
    client.get("/login")
    client.get("/login")
    body = client.get("/metrics").get_data(as_text=True)
    line = next(
        x
        for x in body.splitlines()
        if x.startswith("foodtrace_http_requests_total") and 'endpoint="/login"' in x
    )
    assert line.endswith(" 2.0")
    assert "foodtrace_http_request_duration_seconds_bucket" in body


def test_heartbeat_task_logic_records_the_worker(app):
    from operations import tasks
    from web.db import get_session

    at = tasks.heartbeat.apply().get()
    with app.app_context():
        from operations.service import last_heartbeat

        assert last_heartbeat(session=get_session()).isoformat() == at
