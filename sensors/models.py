"""Sensor devices, their box bindings, temperature readings, watched deliveries and alerts.

Readings are the largest table of the system (tens of millions a semester), so it is narrow:
times are integer microseconds since the epoch (UTC), the device is its integer key, and the
row keeps only what proves it - the ledger index of the batch entry anchoring it and its
position in that batch. Reading rows are not re-derived by `ledger verify` (they are proven
through their batch roots, see sensors.service.verify_batches); every other table is.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    Identity,
    Index,
    Integer,
    SmallInteger,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

import ledger
from columns import utc_column, utcnow

# SQLite makes only an INTEGER PRIMARY KEY an alias of the rowid (no extra key bytes).
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

DEVICE_KINDS: tuple[str, ...] = ("probe", "logger", "gateway")
FLAG_CLOCK_SKEW = 1  # bit in Reading.flags: the device clock was ahead of the server's


class Device(SQLModel, table=True):
    """A registered sensor; it posts readings with the API token of its `device`-role user."""

    __tablename__ = "sensor_devices"

    id: int | None = Field(default=None, primary_key=True)
    device_id: str = Field(max_length=64, unique=True, index=True)
    kind: str = Field(default="probe", max_length=32)
    box_id: str | None = Field(default=None, max_length=64, index=True)
    calibrated_on: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    user_id: int = Field(foreign_key="users.id", index=True)
    registered_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class Binding(SQLModel, table=True):
    """A device sat in a delivery box from `bound_at` until `ended_at` (None: still there)."""

    __tablename__ = "sensor_bindings"
    __table_args__ = (Index("ix_sensor_bindings_box_bound", "box_id", "bound_at"),)

    id: int | None = Field(default=None, primary_key=True)
    device: int = Field(foreign_key="sensor_devices.id", index=True)
    box_id: str = Field(max_length=64)
    bound_at: datetime = Field(sa_column=utc_column())
    ended_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class Reading(SQLModel, table=True):
    """One temperature reading in °C; (device, at) is unique, so a resent reading is a no-op."""

    __tablename__ = "sensor_readings"
    __table_args__ = (UniqueConstraint("device", "at", name="uq_sensor_readings_device_at"),)

    # Column order keeps PostgreSQL rows free of alignment padding (8-byte columns first).
    # PostgreSQL hands out ids 1,000 at a time per session (nextval per row was 40% of a COPY).
    id: int | None = Field(
        default=None, sa_column=Column(BIG_ID, Identity(cache=1000), primary_key=True)
    )
    at: int = Field(sa_column=Column(BigInteger(), nullable=False))  # µs since epoch, UTC
    celsius: float = Field(sa_column=Column(Float(), nullable=False))
    ledger_index: int = Field(sa_column=Column(BigInteger(), nullable=False))
    # No foreign key: PostgreSQL checks one row by row (a trigger per reading, most of a COPY's
    # time); the ingest service writes only the id of the device row it holds locked.
    device: int = Field(sa_column=Column(Integer(), nullable=False))
    position: int = Field(sa_column=Column(SmallInteger(), nullable=False))
    flags: int = Field(default=0, sa_column=Column(SmallInteger(), nullable=False))


class Watch(SQLModel, table=True):
    """A delivery in progress (or done) that the orders module asked the cold chain to watch."""

    __tablename__ = "sensor_watches"
    __table_args__ = (
        # Deliveries still on the road, per box: every ingest asks which of its boxes are
        # watched; the plain box index walks every delivery the box ever carried.
        Index(
            "ix_sensor_watches_open_box",
            "box_id",
            sqlite_where=text("dropoff_at IS NULL"),
            postgresql_where=text("dropoff_at IS NULL"),
        ),
    )

    delivery_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    box_id: str = Field(max_length=64, index=True)
    merchant_id: int | None = Field(default=None, index=True)
    food_class: str = Field(max_length=16)
    pickup_at: datetime = Field(sa_column=utc_column())
    dropoff_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class Alert(SQLModel, table=True):
    """An excursion seen while a watched delivery was still on the road (one per excursion)."""

    __tablename__ = "sensor_alerts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "excursion_start", name="uq_sensor_alerts_excursion"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(index=True)
    merchant_id: int | None = Field(default=None, index=True)
    box_id: str = Field(max_length=64)
    food_class: str = Field(max_length=16)
    profile: str = Field(max_length=32)
    excursion_start: datetime = Field(sa_column=utc_column())
    peak_c: float
    raised_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(index=True))
    ledger_index: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


# How `ledger verify` re-derives the sensor tables (readings are proven per batch instead).
DEVICES_PROJECTION = ledger.TableProjection(
    table="sensor_devices",
    writes={
        "sensor.device_registered",
        "sensor.device_bound",
        "sensor.device_unbound",
        "sensor.device_revoked",
    },
    key="subject.device",
    columns=["device_id", "kind", "box_id", "calibrated_on", "user_id", "revoked_at"],
)
BINDINGS_PROJECTION = ledger.TableProjection(
    table="sensor_bindings",
    writes={"sensor.device_bound", "sensor.binding_ended"},
    key="subject.binding",
    columns=["device", "box_id", "bound_at", "ended_at"],
)
WATCHES_PROJECTION = ledger.TableProjection(
    table="sensor_watches",
    writes={"sensor.watch_started", "sensor.watch_ended"},
    key="subject.delivery",
    key_column="delivery_id",
    columns=["box_id", "merchant_id", "food_class", "pickup_at", "dropoff_at"],
)
ALERTS_PROJECTION = ledger.TableProjection(
    table="sensor_alerts",
    writes={"sensor.alert_raised"},
    key="subject.alert",
    columns=[
        "delivery_id",
        "merchant_id",
        "box_id",
        "food_class",
        "profile",
        "excursion_start",
        "peak_c",
    ],
)
PROJECTIONS = (DEVICES_PROJECTION, BINDINGS_PROJECTION, WATCHES_PROJECTION, ALERTS_PROJECTION)


class StoredVerdict(SQLModel, table=True):
    """The cold-chain verdict of one finished delivery under one profile: a derived cache.

    Written by sensors.verdicts (the judge-finished task) from the stored readings, so the
    dashboard need not re-judge a semester; `ledger verify` does not project it and nothing is
    proven from it (case pages and PDFs judge from the raw readings). The order's merchant,
    courier and creation time are copied in so the dashboard counts verdicts per merchant and
    courier over a period from one index each. A late reading inside the window marks the row
    `stale` (verdict "stale") until the task judges it again.
    """

    __tablename__ = "delivery_verdicts"
    __table_args__ = (
        Index("ix_delivery_verdicts_merchant", "profile", "merchant_id", "verdict", "ordered_at"),
        Index("ix_delivery_verdicts_courier", "profile", "courier_id", "verdict", "ordered_at"),
        Index("ix_delivery_verdicts_verdict", "verdict", "profile", "ordered_at"),
        Index("ix_delivery_verdicts_box_window", "box_id", "window_hi"),
    )

    delivery_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    profile: str = Field(primary_key=True, max_length=32)
    verdict: str = Field(max_length=24)  # pass | fail | insufficient_data | stale
    n_readings: int
    min_c: float | None = None
    max_c: float | None = None
    mean_c: float | None = None
    minutes_outside: float
    n_excursions: int
    n_gaps: int
    exceeds_time_limit: bool
    box_id: str = Field(max_length=64)
    window_lo: int = Field(sa_column=Column(BigInteger(), nullable=False))  # pickup, µs UTC
    window_hi: int = Field(sa_column=Column(BigInteger(), nullable=False))  # drop-off, µs UTC
    merchant_id: int
    courier_id: int
    ordered_at: datetime = Field(sa_column=utc_column())
    judged_at: datetime = Field(sa_column=utc_column())
