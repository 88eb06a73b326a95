"""Health of the running system: database, broker and worker heartbeats."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from accounts.models import utcnow
from operations.models import WorkerHeartbeat


@dataclass(slots=True)
class Health:
    """The answer of /healthz: each check's status and the overall verdict."""

    checks: dict[str, dict[str, object]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c["status"] == "ok" for c in self.checks.values())


def record_heartbeat(*, session: Session, worker: str, now: datetime | None = None) -> datetime:
    """Upsert the worker's heartbeat time."""
    at = now or utcnow()
    row = session.get(WorkerHeartbeat, worker)
    if row is None:
        row = WorkerHeartbeat(worker=worker, at=at)
    row.at = at
    session.add(row)
    session.commit()
    return at


def last_heartbeat(*, session: Session) -> datetime | None:
    return session.exec(select(WorkerHeartbeat.at).order_by(WorkerHeartbeat.at.desc())).first()  # type: ignore[attr-defined]


def check_health(*, engine: Engine, broker_url: str = "") -> Health:
    """Probe the database (and the broker when one is configured), with latencies."""
    health = Health()
    t0 = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        health.checks["database"] = {"status": "ok", "ms": _ms(t0)}
    except Exception as exc:
        health.checks["database"] = {"status": "down", "error": type(exc).__name__}
    if broker_url:
        from kombu import Connection

        t0 = time.perf_counter()
        try:
            with Connection(broker_url, connect_timeout=1) as conn:
                conn.ensure_connection(max_retries=1, timeout=1)
            health.checks["broker"] = {"status": "ok", "ms": _ms(t0)}
        except Exception as exc:
            health.checks["broker"] = {"status": "down", "error": type(exc).__name__}
    return health


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)
