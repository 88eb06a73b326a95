"""Ordering: menus, menu batches, orders, lines, deliveries, refunds, the simulated gateway.

Revision ID: 0005_orders
Revises: 0004_trace
Create Date: 2026-11-22

(uq_orders_user_key makes the Idempotency-Key of POST /api/v1/orders hold across processes.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_orders"
down_revision = "0004_trace"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("id", sa.Integer(), primary_key=True)


def _index() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("ledger_index", sa.BigInteger(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "menu_items",
        _id(),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("product_id", sa.Integer(), sa.ForeignKey("products.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("description", sa.String(500), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("allergens", sa.JSON(), nullable=False),
        sa.Column("food_class", sa.String(16), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("photo_digest", sa.String(64), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        _index(),
    )
    op.create_index("ix_menu_items_merchant_id", "menu_items", ["merchant_id"])
    op.create_index("ix_menu_items_product_id", "menu_items", ["product_id"])
    op.create_table(
        "menu_item_photos",
        sa.Column("menu_item_id", sa.Integer(), sa.ForeignKey("menu_items.id"), primary_key=True),
        sa.Column("mimetype", sa.String(40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "menu_batches",
        _id(),
        sa.Column("menu_item_id", sa.Integer(), sa.ForeignKey("menu_items.id"), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("dish_batches.id"), nullable=False),
        sa.Column("portions", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        _index(),
        sa.UniqueConstraint("menu_item_id", "batch_id", name="uq_menu_batches_item_batch"),
    )
    op.create_index("ix_menu_batches_menu_item_id", "menu_batches", ["menu_item_id"])
    op.create_index("ix_menu_batches_batch_id", "menu_batches", ["batch_id"])
    op.create_table(
        "orders",
        _id(),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("merchant_id", sa.Integer(), sa.ForeignKey("merchants.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("payment_status", sa.String(20), nullable=False),
        sa.Column("total_fen", sa.Integer(), nullable=False),
        sa.Column("building", sa.String(120), nullable=False),
        sa.Column("room", sa.String(40), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("ready_at", TZ, nullable=True),
        sa.Column("reject_reason", sa.String(300), nullable=True),
        sa.Column("payment_reference", sa.String(80), nullable=False),
        sa.Column("gateway_charge_id", sa.String(80), nullable=True),
        sa.Column("paid_at", TZ, nullable=True),
        sa.Column("payment_error", sa.String(300), nullable=True),
        sa.Column("payment_attempts", sa.Integer(), nullable=False),
        sa.Column("next_payment_at", TZ, nullable=True),
        sa.Column("refunded_fen", sa.Integer(), nullable=False),
        sa.Column("personal_erased_at", TZ, nullable=True),
        sa.Column("placed_index", sa.BigInteger(), nullable=True),
        _index(),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_orders_user_key"),
    )
    op.create_index("ix_orders_user_created", "orders", ["user_id", "created_at"])
    op.create_index("ix_orders_merchant_created", "orders", ["merchant_id", "created_at"])
    op.create_index("ix_orders_payment_due", "orders", ["payment_status", "next_payment_at"])
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_table(
        "order_lines",
        _id(),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("menu_item_id", sa.Integer(), sa.ForeignKey("menu_items.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("unit_price_fen", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("food_class", sa.String(16), nullable=False),
        _index(),
    )
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])
    op.create_index("ix_order_lines_menu_item_id", "order_lines", ["menu_item_id"])
    op.create_table(
        "order_deliveries",
        _id(),
        sa.Column(
            "order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False, unique=True
        ),
        sa.Column("courier_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("food_class", sa.String(16), nullable=False),
        sa.Column("box_id", sa.String(64), nullable=True),
        sa.Column("seal_number", sa.String(40), nullable=True),
        sa.Column("dropoff_seal", sa.String(40), nullable=True),
        sa.Column("seal_intact", sa.Boolean(), nullable=True),
        sa.Column("assigned_at", TZ, nullable=False),
        sa.Column("picked_up_at", TZ, nullable=True),
        sa.Column("dropped_off_at", TZ, nullable=True),
        _index(),
    )
    op.create_index("ix_order_deliveries_courier_id", "order_deliveries", ["courier_id"])
    op.create_index("ix_order_deliveries_box_id", "order_deliveries", ["box_id"])
    op.create_table(
        "order_refunds",
        _id(),
        sa.Column("order_id", sa.Integer(), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("reference", sa.String(80), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("gateway_refund_id", sa.String(80), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("settled_at", TZ, nullable=True),
        _index(),
        sa.UniqueConstraint("order_id", "idempotency_key", name="uq_order_refunds_order_key"),
    )
    op.create_index("ix_order_refunds_order_id", "order_refunds", ["order_id"])
    op.create_table(
        "payment_sim_state",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("failure_rate", sa.Float(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.Column("updated_by", sa.String(80), nullable=False),
        _index(),
    )
    op.create_table(
        "payment_sim_charges",
        _id(),
        sa.Column("reference", sa.String(80), nullable=False, unique=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("charge_reference", sa.String(80), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "payment_sim_charges",
        "payment_sim_state",
        "order_refunds",
        "order_deliveries",
        "order_lines",
        "orders",
        "menu_batches",
        "menu_item_photos",
        "menu_items",
    ):
        op.drop_table(table)
