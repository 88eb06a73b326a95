"""Celery adapters: periodic checkpoint signing and background verification runs."""

from __future__ import annotations

from app import celery, engine_of, make_engine, session_scope, task_runtime
from evidence import service


def _extras() -> dict:  # type: ignore[type-arg]
    return task_runtime.app().extensions["foodtrace"].extras


@celery.task(name="ledger.checkpoint")
def sign_checkpoint() -> int:
    """Sign a checkpoint of the current tree; returns its size."""
    with session_scope(engine_of(task_runtime.app())) as session:
        return service.sign_checkpoint(session=session, key=_extras()["ledger_key"]).size


@celery.task(name="ledger.verify", acks_late=True)
def verify_ledger(run_id: int) -> str:
    """Carry out a verification run requested from the admin page."""
    flask_app = task_runtime.app()
    engine = engine_of(flask_app)
    reader = make_engine(flask_app.extensions["foodtrace"].settings.database_url, read_only=True)
    with session_scope(reader) as session, session_scope(engine) as progress_session:
        run = service.run_verification(
            session=session,
            progress_session=progress_session,
            run_id=run_id,
            key=_extras()["ledger_key"],
            projections=_extras()["projections"],
        )
    reader.dispose()
    return run.status
