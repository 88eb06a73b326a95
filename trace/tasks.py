"""Background work of the trace domain: processing large uploads."""

from __future__ import annotations

from app import celery, engine_of, session_scope, task_runtime
from trace import imports


@celery.task(name="trace.import_upload", autoretry_for=(ConnectionError,), retry_backoff=True)
def import_upload(upload_id: int) -> str:
    """Validate and write one upload's records; idempotent (a finished upload is left alone)."""
    flask_app = task_runtime.app()
    settings = flask_app.extensions["foodtrace"].settings
    with session_scope(engine_of(flask_app)) as session:
        upload = imports.process_upload(session=session, upload_id=upload_id, tz=settings.timezone)
        return upload.outcome or upload.status
