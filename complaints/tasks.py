"""Celery adapters: SLA warnings and escalations (beat: `complaints.check_slas` every 60 s),
exposure roll-ups for source ranking (beat: `complaints.roll_up_exposures` hourly)."""

from __future__ import annotations

from app import celery, engine_of, session_scope, task_runtime
from complaints import deadlines, exposure_rollups


@celery.task(name="complaints.check_slas", acks_late=True)
def check_slas() -> int:
    """Raise the SLA warnings and escalations now due; returns how many were raised.

    Idempotent (one warning and one escalation per case and target, enforced by a unique
    row), so a redelivered or overlapping run raises nothing twice.
    """
    flask_app = task_runtime.app()
    with session_scope(engine_of(flask_app)) as session:
        return len(deadlines.check_slas(session=session))


@celery.task(name="complaints.roll_up_exposures", acks_late=True)
def roll_up_exposures() -> int:
    """Roll up the settled days not rolled up yet or changed since (at most
    exposure_rollups.RUN_DAYS per run); returns how many days were written.

    Idempotent (a day is recomputed whole, in its own transaction), so a redelivered or
    overlapping run only repeats work.
    """
    flask_app = task_runtime.app()
    horizon = exposure_rollups.horizon_from(flask_app.config)
    with session_scope(engine_of(flask_app)) as session:
        return len(exposure_rollups.roll_up(session=session, horizon=horizon))
