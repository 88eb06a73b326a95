"""Celery adapters: render a queued report version."""

from __future__ import annotations

from app import celery, engine_of, session_scope, task_runtime
from reports import service


@celery.task(name="reports.render", acks_late=True)
def render_report(report_id: int) -> str:
    """Render one queued version (idempotent: a rendered version is left as it is)."""
    flask_app = task_runtime.app()
    state = flask_app.extensions["foodtrace"]
    with session_scope(engine_of(flask_app)) as session:
        report = service.render_report(
            session=session,
            report_id=report_id,
            key=state.extras["ledger_key"],
            tz=state.settings.timezone,
            profile=state.settings.cold_chain_profile,
        )
        return report.status


@celery.task(name="reports.weekly_summary")
def weekly_summary() -> int:
    """The last complete week's campus summary (beat runs this; a second run is a no-op)."""
    flask_app = task_runtime.app()
    settings = flask_app.extensions["foodtrace"].settings
    with session_scope(engine_of(flask_app)) as session:
        report = service.weekly_summary(
            session=session, tz=settings.timezone, profile=settings.cold_chain_profile
        )
        return int(report.id or 0)
