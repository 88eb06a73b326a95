"""Celery adapters: raise cold-chain alerts after readings of a watched box came in; store the
verdicts of finished deliveries (beat)."""

from __future__ import annotations

from datetime import timedelta

from app import celery, engine_of, session_scope, task_runtime
from sensors import coldchain, verdicts


@celery.task(name="sensors.evaluate_alerts", acks_late=True)
def evaluate_alerts(device: int) -> int:
    """Judge the open deliveries in this device's box; raise one alert per new excursion.

    Idempotent: an excursion that already has its alert raises none (safe to redeliver).
    Returns how many alerts were raised.
    """
    flask_app = task_runtime.app()
    profile = flask_app.extensions["foodtrace"].settings.cold_chain_profile
    with session_scope(engine_of(flask_app)) as session:
        return len(coldchain.evaluate_alerts(session=session, device=device, profile=profile))


@celery.task(name="sensors.judge_finished", acks_late=True)
def judge_finished(settle_minutes: float = 10.0, limit: int = verdicts.TASK_LIMIT) -> int:
    """Store the verdicts of deliveries dropped off more than `settle_minutes` ago (orders of
    the last verdicts.LOOKBACK, and stale rows), at most `limit` per profile; idempotent.
    Returns how many verdicts were written."""
    flask_app = task_runtime.app()
    with session_scope(engine_of(flask_app)) as session:
        return verdicts.judge_finished(
            session=session, settle=timedelta(minutes=settle_minutes), limit=limit
        )
