"""Health of the running system: database, broker and worker heartbeats."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from accounts.models import utcnow
from operations.models import ParkedTask, WorkerHeartbeat

log = logging.getLogger("foodtrace.tasks")


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


# ------------------------------------------------------------------ tasks parked in an outage


def park_task(
    *, session: Session, task: str, args: Sequence[Any], error: str, now: datetime | None = None
) -> int:
    """Keep a task the broker refused; `relay_parked_tasks` sends it once the broker is back."""
    row = ParkedTask(
        task=task, args=json.dumps(list(args)), error=error[:500], parked_at=now or utcnow()
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def parked_count(*, session: Session) -> int:
    """How many tasks wait for the broker."""
    return int(session.exec(select(func.count()).select_from(ParkedTask)).one())


def relay_parked_tasks(
    *, session: Session, send: Callable[[str, list[Any]], None], limit: int = 1000
) -> int:
    """Send parked tasks, oldest first, deleting each once the broker took it.

    Stops at the first failure (the broker is still away) and returns how many were sent.
    Rows are locked while sent (FOR UPDATE SKIP LOCKED on PostgreSQL), so two relays running at
    once never send one task twice.
    """
    stmt = select(ParkedTask).order_by(col(ParkedTask.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    for row in session.exec(stmt).all():
        try:
            send(row.task, json.loads(row.args))
        except Exception as exc:  # any broker error: keep the rest parked
            log.warning("broker still unreachable, %s stays parked: %r", row.task, exc)
            break
        session.delete(row)
        sent += 1
    session.commit()
    return sent
