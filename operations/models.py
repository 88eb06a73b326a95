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


class ParkedTask(SQLModel, table=True):
    """A task the broker could not take when it was sent (an outage); relayed when it is back.

    Operational state, not a fact: no ledger entry. The rows a task works on were committed
    before it was sent, so running it late is correct.
    """

    __tablename__ = "parked_tasks"

    id: int | None = Field(default=None, primary_key=True)
    task: str = Field(max_length=200)
    args: str  # JSON array
    error: str = Field(default="", max_length=500)
    parked_at: datetime = Field(sa_column=utc_column())
