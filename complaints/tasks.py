"""Celery adapters: SLA warnings and escalations (beat: `complaints.check_slas` every 60 s)."""

from __future__ import annotations

from app import celery, engine_of, session_scope, task_runtime
from complaints import deadlines


@celery.task(name="complaints.check_slas", acks_late=True)
def check_slas() -> int:
    """Raise the SLA warnings and escalations now due; returns how many were raised.

    Idempotent (one warning and one escalation per case and target, enforced by a unique
    row), so a redelivered or overlapping run raises nothing twice.
    """
    flask_app = task_runtime.app()
    with session_scope(engine_of(flask_app)) as session:
        return len(deadlines.check_slas(session=session))
