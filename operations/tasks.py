"""Celery adapters for operational tasks."""

from __future__ import annotations

import socket

from app import celery, engine_of, session_scope, task_runtime
from operations import service


@celery.task(name="ops.heartbeat")
def heartbeat() -> str:
    """Prove a worker runs tasks: store this worker's heartbeat time."""
    with session_scope(engine_of(task_runtime.app())) as session:
        at = service.record_heartbeat(session=session, worker=socket.gethostname())
    return at.isoformat()


@celery.task(name="ops.relay_parked_tasks", acks_late=True)
def relay_parked_tasks() -> int:
    """Send the tasks parked while the broker was unreachable (beat runs this every 15 s)."""
    with session_scope(engine_of(task_runtime.app())) as session:
        return service.relay_parked_tasks(
            session=session, send=lambda name, args: celery.send_task(name, args=args)
        )
