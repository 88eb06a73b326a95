"""Ordering tables: menus, the batches each menu item is served from, orders and their lines,
deliveries, refunds, vouchers, and the simulated payment gateway's own storage.

Every domain row is written by a service together with its ledger entry and records that
entry's index; `PROJECTIONS` tells `ledger verify` how to re-derive each table. Personal data
of students (delivery building, room, phone) is in the rows only; entries carry salted digests
(`Event.personal`), so `orders.retention` can erase it later and the log still verifies.

Columns that are operational rather than facts (payment retry schedule, the running count of
portions allocated from a batch) are not projected: `MenuBatch.allocated` is a cache of the
trace module's `batch_allocations` rows for that batch (see `orders.placement`).

The `payment_sim_*` tables belong to the simulated gateway (orders/gateway_sim.py): they stand
for an external payment service's own records, not for facts of this system, so only the
administrator's choice of gateway mode is ledgered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel

import ledger
from columns import utc_column, utcnow

__all__ = [
    "PROJECTIONS",
    "Delivery",
    "MenuBatch",
    "MenuItem",
    "MenuItemPhoto",
    "Order",
    "OrderLine",
    "Refund",
    "SimCharge",
    "SimGatewayState",
    "Voucher",
]


VOUCHER_TO_RESTORE = (
    "voucher_id IS NOT NULL AND voucher_restored_at IS NULL AND status IN ('rejected', 'cancelled')"
)


def _ledger_index() -> Any:
    return Field(default=None, sa_type=BigInteger)


class MenuItem(SQLModel, table=True):
    """A dish a merchant sells: price in fen (1/100 yuan), allergens, food class, availability.

    `product_id` is the trace product the dish is; batches of that product serve its orders.
    """

    __tablename__ = "menu_items"

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    product_id: int = Field(foreign_key="products.id", index=True)
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=500)
    price_fen: int
    allergens: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    food_class: str = Field(max_length=16)  # hot | cold | frozen | ambient (sensors.profiles)
    available: bool = Field(default=True)
    photo_digest: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class MenuItemPhoto(SQLModel, table=True):
    """A menu item's photo (kept apart so menus never read the bytes); its digest is ledgered."""

    __tablename__ = "menu_item_photos"

    menu_item_id: int = Field(foreign_key="menu_items.id", primary_key=True)
    mimetype: str = Field(max_length=40)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class MenuBatch(SQLModel, table=True):
    """A dish batch opened for a menu item: its portions serve orders first-in, first-out."""

    __tablename__ = "menu_batches"
    __table_args__ = (
        UniqueConstraint("menu_item_id", "batch_id", name="uq_menu_batches_item_batch"),
    )

    id: int | None = Field(default=None, primary_key=True)
    menu_item_id: int = Field(foreign_key="menu_items.id", index=True)
    batch_id: int = Field(foreign_key="dish_batches.id", index=True)
    portions: int
    allocated: int = Field(default=0)  # cache of trace allocations from this batch
    opened_at: datetime = Field(sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _ledger_index()


class Order(SQLModel, table=True):
    """A student's order from one merchant; (user_id, idempotency_key) is unique."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_key"),
        Index("ix_orders_user_created", "user_id", "created_at"),
        Index("ix_orders_merchant_created", "merchant_id", "created_at"),
        Index("ix_orders_payment_due", "payment_status", "next_payment_at"),
        Index("ix_orders_created_at", "created_at"),
        # the few orders nobody ate: exposure roll-ups count a day's eligible orders with it
        Index(
            "ix_orders_not_eaten_created_at",
            "created_at",
            sqlite_where=text("status IN ('rejected', 'cancelled')"),
            postgresql_where=text("status IN ('rejected', 'cancelled')"),
        ),
        # the few voucher orders not eaten whose discount is still to go back (orders.vouchers)
        Index(
            "ix_orders_voucher_to_restore",
            "id",
            sqlite_where=text(VOUCHER_TO_RESTORE),
            postgresql_where=text(VOUCHER_TO_RESTORE),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    merchant_id: int = Field(foreign_key="merchants.id")
    idempotency_key: str = Field(max_length=200)
    request_digest: str = Field(max_length=64)
    status: str = Field(default="placed", max_length=20)
    payment_status: str = Field(default="pending", max_length=20)
    total_fen: int
    building: str = Field(default="", max_length=120)  # personal: digested in the ledger
    room: str = Field(default="", max_length=40)  # personal
    phone: str = Field(default="", max_length=40)  # personal
    note: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    accepted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ready_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reject_reason: str | None = Field(default=None, max_length=300)
    payment_reference: str = Field(default="", max_length=80)
    gateway_charge_id: str | None = Field(default=None, max_length=80)
    paid_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    payment_error: str | None = Field(default=None, max_length=300)
    payment_attempts: int = Field(default=0)  # operational: retry schedule
    next_payment_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    refunded_fen: int = Field(default=0)
    # a voucher paid `discount_fen` of the lines; total_fen is what is charged (lines - discount)
    voucher_id: int | None = Field(default=None)
    discount_fen: int = Field(default=0)
    voucher_restored_at: datetime | None = Field(  # the discount went back on the voucher
        default=None, sa_column=utc_column(nullable=True)
    )
    personal_erased_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    placed_index: int | None = _ledger_index()  # the order.placed entry (holds the digests)
    ledger_index: int | None = _ledger_index()


class OrderLine(SQLModel, table=True):
    """One dish of an order at the price it was sold for; trace links it to its batch(es)."""

    __tablename__ = "order_lines"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    menu_item_id: int = Field(foreign_key="menu_items.id", index=True)
    name: str = Field(max_length=120)
    unit_price_fen: int
    quantity: int
    food_class: str = Field(max_length=16)
    ledger_index: int | None = _ledger_index()


class Delivery(SQLModel, table=True):
    """Carrying one order: the courier, the box (whose sensor rides along), the seal (食安封签)."""

    __tablename__ = "order_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", unique=True)
    courier_id: int = Field(foreign_key="users.id", index=True)
    status: str = Field(default="assigned", max_length=16)  # assigned | picked_up | delivered
    food_class: str = Field(max_length=16)
    box_id: str | None = Field(default=None, max_length=64, index=True)
    seal_number: str | None = Field(default=None, max_length=40)
    dropoff_seal: str | None = Field(default=None, max_length=40)
    seal_intact: bool | None = Field(default=None)
    assigned_at: datetime = Field(sa_column=utc_column())
    picked_up_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    dropped_off_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _ledger_index()


class Refund(SQLModel, table=True):
    """Money paid back on an order; (order_id, idempotency_key) is unique, so a retry pays once.

    `kind` "refund" gives back part of the charge (at most what was paid); "payout" pays the
    order's payer an amount of its own (statutory damages), not bounded by the charge.
    """

    __tablename__ = "order_refunds"
    __table_args__ = (
        UniqueConstraint("order_id", "idempotency_key", name="uq_order_refunds_order_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    amount_fen: int
    kind: str = Field(default="refund", max_length=10)  # refund | payout
    idempotency_key: str = Field(max_length=200)
    reference: str = Field(max_length=80, unique=True)
    status: str = Field(default="pending", max_length=16)  # pending | succeeded | failed
    reason: str = Field(default="", max_length=300)
    gateway_refund_id: str | None = Field(default=None, max_length=80)
    error: str | None = Field(default=None, max_length=300)
    attempts: int = Field(default=0)  # operational: retry schedule
    next_attempt_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    settled_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    ledger_index: int | None = _ledger_index()


class Voucher(SQLModel, table=True):
    """Credit for a customer, spent at checkout: `balance_fen` of `amount_fen` is left.

    Issued once per `idempotency_key` (the complaint desk's payout key) to the customer of
    `source_order_id`; `code` (V + 10 Crockford base32 characters) is what the student types,
    and only its owner can spend it. An order it paid records `voucher_id` and `discount_fen`.
    """

    __tablename__ = "order_vouchers"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    amount_fen: int
    balance_fen: int
    idempotency_key: str = Field(max_length=200, unique=True)
    source_order_id: int = Field(foreign_key="orders.id", index=True)
    reason: str = Field(default="", max_length=300)
    issued_by: str = Field(max_length=80)
    issued_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    ledger_index: int | None = _ledger_index()


class SimGatewayState(SQLModel, table=True):
    """The simulated gateway's behaviour, set by administrators and tests (one row, id 1)."""

    __tablename__ = "payment_sim_state"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    mode: str = Field(default="healthy", max_length=16)  # healthy | slow | failing | down
    latency_ms: int = Field(default=0)
    failure_rate: float = Field(default=1.0)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    updated_by: str = Field(default="system", max_length=80)
    ledger_index: int | None = _ledger_index()


class SimCharge(SQLModel, table=True):
    """A charge or refund the simulated gateway carried out; one per reference."""

    __tablename__ = "payment_sim_charges"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=80, unique=True)
    kind: str = Field(max_length=8)  # charge | refund | payout
    amount_fen: int
    charge_reference: str | None = Field(default=None, max_length=80)  # a refund's charge
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())


# Entry types this domain appends.
MENU_ITEM_SAVED = "orders.menu_item_saved"
MENU_BATCH_OPENED = "orders.menu_batch_opened"
MENU_BATCH_CLOSED = "orders.menu_batch_closed"
ORDER_PLACED = "orders.order_placed"
LINE_ADDED = "orders.line_added"
PAYMENT_CHARGED = "orders.payment_charged"
PAYMENT_DEFERRED = "orders.payment_deferred"
PAYMENT_FAILED = "orders.payment_failed"
ORDER_ACCEPTED = "orders.order_accepted"
ORDER_REJECTED = "orders.order_rejected"
ORDER_READY = "orders.order_ready"
DELIVERY_ASSIGNED = "orders.delivery_assigned"
DELIVERY_PICKED_UP = "orders.delivery_picked_up"
DELIVERY_DROPPED_OFF = "orders.delivery_dropped_off"
REFUND_REQUESTED = "orders.refund_requested"
REFUND_SETTLED = "orders.refund_settled"
PAYOUT_REQUESTED = "orders.payout_requested"
PAYOUT_SETTLED = "orders.payout_settled"
PERSONAL_ERASED = "orders.personal_data_erased"
GATEWAY_MODE_SET = "orders.gateway_mode_set"
VOUCHER_ISSUED = "orders.voucher_issued"
VOUCHER_REDEEMED = "orders.voucher_redeemed"
VOUCHER_RESTORED = "orders.voucher_restored"

# The order row's columns and the payload fields that set them (order entries say
# "order_status", delivery entries "delivery_status": one entry may write both rows).
ORDER_COLUMNS = {
    "user_id": "user_id",
    "merchant_id": "merchant_id",
    "idempotency_key": "idempotency_key",
    "request_digest": "request_digest",
    "status": "order_status",
    "payment_status": "payment_status",
    "total_fen": "total_fen",
    "building": "building",
    "room": "room",
    "phone": "phone",
    "note": "note",
    "accepted_at": "accepted_at",
    "ready_at": "ready_at",
    "reject_reason": "reject_reason",
    "payment_reference": "payment_reference",
    "gateway_charge_id": "gateway_charge_id",
    "paid_at": "paid_at",
    "payment_error": "payment_error",
    "refunded_fen": "refunded_fen",
    "voucher_id": "voucher_id",
    "discount_fen": "discount_fen",
    "voucher_restored_at": "voucher_restored_at",
    "personal_erased_at": "personal_erased_at",
}
PERSONAL_FIELDS = frozenset({"building", "room", "phone"})
LINE_COLUMNS = ("order_id", "menu_item_id", "name", "unit_price_fen", "quantity", "food_class")
DELIVERY_COLUMNS = {
    "order_id": "order_id",
    "courier_id": "courier_id",
    "status": "delivery_status",
    "food_class": "food_class",
    "box_id": "box_id",
    "seal_number": "seal_number",
    "dropoff_seal": "dropoff_seal",
    "seal_intact": "seal_intact",
    "assigned_at": "assigned_at",
    "picked_up_at": "picked_up_at",
    "dropped_off_at": "dropped_off_at",
}
VOUCHER_COLUMNS = (
    "code", "user_id", "amount_fen", "balance_fen", "idempotency_key", "source_order_id",
    "reason", "issued_by", "issued_at", "expires_at",
)  # fmt: skip
MENU_ITEM_COLUMNS = (
    "merchant_id",
    "product_id",
    "name",
    "description",
    "price_fen",
    "allergens",
    "food_class",
    "available",
    "photo_digest",
)

PROJECTIONS = (
    ledger.TableProjection(
        table="menu_items", writes={MENU_ITEM_SAVED}, key="subject.menu_item",
        columns=MENU_ITEM_COLUMNS,
    ),
    ledger.TableProjection(
        table="menu_batches", writes={MENU_BATCH_OPENED, MENU_BATCH_CLOSED},
        key="subject.menu_batch",
        columns=["menu_item_id", "batch_id", "portions", "opened_at", "closed_at"],
    ),
    ledger.TableProjection(
        table="orders",
        writes={
            ORDER_PLACED, PAYMENT_CHARGED, PAYMENT_DEFERRED, PAYMENT_FAILED, ORDER_ACCEPTED,
            ORDER_REJECTED, ORDER_READY, DELIVERY_PICKED_UP, DELIVERY_DROPPED_OFF,
            REFUND_SETTLED, PERSONAL_ERASED, VOUCHER_RESTORED,
        },
        key="subject.order",
        columns=ORDER_COLUMNS,
    ),
    ledger.TableProjection(
        table="order_lines", writes={LINE_ADDED}, key="subject.line", columns=LINE_COLUMNS
    ),
    ledger.TableProjection(
        table="order_deliveries",
        writes={DELIVERY_ASSIGNED, DELIVERY_PICKED_UP, DELIVERY_DROPPED_OFF},
        key="subject.delivery",
        columns=DELIVERY_COLUMNS,
    ),
    ledger.TableProjection(
        table="order_refunds",
        writes={REFUND_REQUESTED, REFUND_SETTLED, PAYOUT_REQUESTED, PAYOUT_SETTLED},
        key="subject.refund",
        columns=[
            "order_id", "amount_fen", "kind", "idempotency_key", "reference", "status", "reason",
            "gateway_refund_id", "error",
        ],
    ),
    ledger.TableProjection(
        table="order_vouchers",
        writes={VOUCHER_ISSUED, VOUCHER_REDEEMED, VOUCHER_RESTORED},
        key="subject.voucher",
        columns=VOUCHER_COLUMNS,
    ),
    ledger.TableProjection(
        table="payment_sim_state", writes={GATEWAY_MODE_SET}, key="subject.gateway",
        columns=["mode", "latency_ms", "failure_rate"],
    ),
)  # fmt: skip
