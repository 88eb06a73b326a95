"""Celery adapters: raise cold-chain alerts after readings of a watched box came in."""

from __future__ import annotations

from app import celery, engine_of, session_scope, task_runtime
from sensors import coldchain


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
