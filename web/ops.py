"""Operations endpoints: /healthz and Prometheus /metrics, and the request metrics behind them."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from operations import service as operations
from web.auth import public
from web.db import get_session

bp = Blueprint("ops", __name__)


class Metrics:
    """Request counters and latency histograms on the app's own registry."""

    def __init__(self, multiproc_dir: str = "") -> None:
        self.multiproc_dir = multiproc_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "foodtrace_http_requests_total",
            "HTTP requests by method, endpoint and status",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "foodtrace_http_request_duration_seconds",
            "HTTP request latency by method and endpoint",
            ["method", "endpoint"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def exposition(self) -> bytes:
        # gunicorn workers each count separately; the multiprocess collector sums them.
        if self.multiproc_dir:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


@bp.get("/healthz")
@public
def healthz() -> Response:
    """Database (and broker, when configured) reachability, and the last worker heartbeat."""
    ext = current_app.extensions["foodtrace"]
    health = operations.check_health(engine=ext.engine, broker_url=ext.settings.celery_broker_url)
    body: dict[str, object] = {"status": "ok" if health.ok else "degraded", "checks": health.checks}
    if health.checks["database"]["status"] == "ok":
        beat = operations.last_heartbeat(session=get_session())
        body["last_worker_heartbeat"] = beat.isoformat() if beat else None
    resp = jsonify(body)
    resp.status_code = 200 if health.ok else 503
    return resp


@bp.get("/metrics")
@public
def metrics() -> Response:
    return Response(
        current_app.extensions["foodtrace"].metrics.exposition(), mimetype=CONTENT_TYPE_LATEST
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("request_started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            m: Metrics = current_app.extensions["foodtrace"].metrics
            m.requests.labels(request.method, endpoint, str(response.status_code)).inc()
            m.latency.labels(request.method, endpoint).observe(time.perf_counter() - started)
        return response
