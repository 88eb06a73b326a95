"""Operational state: the last heartbeat each task worker sent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accounts.models import utc_column


class WorkerHeartbeat(SQLModel, table=True):
    """When a worker last ran the periodic heartbeat task (shown by /healthz)."""

    __tablename__ = "worker_heartbeats"

    worker: str = Field(primary_key=True, max_length=120)
    at: datetime = Field(sa_column=utc_column())
