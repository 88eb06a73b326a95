"""The ordering use cases in one place: what views, tasks, the CLI and other domains call.

The work is done in modules named for each part of the flow - orders.menu (menus and batches),
orders.placement (placing orders, recording payment outcomes), orders.billing (charges,
reconciliation, refunds), orders.fulfilment (the kitchen), orders.delivery (couriers),
orders.queries (reading, scoped to the caller), orders.retention, orders.vouchers (compensation
vouchers: issue, spend at checkout, give back) - and re-exported here.
Every write validates its input, writes rows and their ledger entries in one transaction, and
commits once; none calls a payment gateway inside a transaction.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import Session

from orders.access import Actor
from orders.billing import (
    ReconcileReport,
    RefundResult,
    charge,
    pay_order,
    reconcile_payments,
    refund_rejected,
    settle_pending_refunds,
)
from orders.billing import payout as _payout
from orders.billing import refund as _refund
from orders.checkout import Address, LineRequest, OrderRequest
from orders.delivery import assign, dropoff, pickup
from orders.fulfilment import accept, mark_ready, reject
from orders.gateway_sim import SimulatedGateway, gateway_mode, set_gateway_mode
from orders.menu import (
    MenuItemData,
    close_batch,
    menu_of,
    merchants,
    open_batch,
    produce_and_open,
    save_menu_item,
    set_available,
    set_photo,
)
from orders.payments import PaymentGateway
from orders.placement import PaymentOutcome, Placed, place_order, record_payment, write_batch
from orders.queries import OrderFilter, courier_board, get_order, incoming, list_orders
from orders.retention import erase_expired_personal_data
from orders.rules import OrdersConfig
from orders.vouchers import VoucherResult, issue_voucher, list_vouchers, restore_vouchers

__all__ = [
    "Actor",
    "Address",
    "LineRequest",
    "MenuItemData",
    "OrderFilter",
    "OrderRequest",
    "OrdersConfig",
    "PaymentOutcome",
    "Placed",
    "ReconcileReport",
    "RefundResult",
    "VoucherResult",
    "accept",
    "assign",
    "charge",
    "close_batch",
    "courier_board",
    "dropoff",
    "erase_expired_personal_data",
    "gateway_for",
    "gateway_mode",
    "get_order",
    "incoming",
    "issue_voucher",
    "list_orders",
    "list_vouchers",
    "mark_ready",
    "menu_of",
    "merchants",
    "open_batch",
    "pay_order",
    "payout",
    "pickup",
    "place_order",
    "produce_and_open",
    "reconcile_payments",
    "record_payment",
    "refund",
    "refund_rejected",
    "reject",
    "restore_vouchers",
    "save_menu_item",
    "set_available",
    "set_gateway_mode",
    "set_photo",
    "settle_pending_refunds",
    "write_batch",
]

GATEWAYS = ("simulated",)


def gateway_for(engine: Engine, name: str = "simulated") -> PaymentGateway:
    """The payment gateway a deployment uses (today: the simulated one, for demo and tests)."""
    if name not in GATEWAYS:
        raise ValueError(f"unknown payment gateway {name!r}; known: {', '.join(GATEWAYS)}")
    return SimulatedGateway(engine)


def refund(
    *,
    session: Session,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    reason: str = "",
    gateway: PaymentGateway | None = None,
    config: OrdersConfig | None = None,
) -> RefundResult:
    """Refund `amount_fen` (fen, 1/100 yuan) of a paid order, once per idempotency key.

    This is the refund interface of the payment flow; the complaint desk's compensation calls
    it with its payout key. Returns a RefundResult with `reference` (the gateway reference),
    `amount_fen` and `status`: "succeeded"; "pending" when the gateway is down (the refund is
    recorded and `orders.reconcile_payments` pays it, same reference, when it is back);
    "failed" when the gateway refused it. Raises orders.errors.RefundError (the order is not
    paid, the amount exceeds what is left, or the key was used for another amount) and
    orders.errors.NotFound. Calling again with the same key and amount never pays twice.
    `gateway` defaults to the deployment's (simulated) gateway on the session's engine.
    """
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return _refund(
        session=session,
        gateway=gateway or gateway_for(engine),
        order_id=order_id,
        amount_fen=amount_fen,
        idempotency_key=idempotency_key,
        actor=actor,
        config=config or OrdersConfig.from_mapping(),
        reason=reason,
    )


def payout(
    *,
    session: Session,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    reason: str = "",
    gateway: PaymentGateway | None = None,
    config: OrdersConfig | None = None,
) -> RefundResult:
    """Pay `amount_fen` to the payer of a paid order (statutory damages), once per key.

    The payout interface of the payment flow, beside `refund`: the complaint desk pays
    statutory (art. 148) damages through it, which are larger than the price and so cannot be
    a refund of the charge. Same results and errors as `refund`, but the amount is not bounded
    by the price and the order's `refunded_fen` is left alone (see orders.billing.payout).
    """
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return _payout(
        session=session,
        gateway=gateway or gateway_for(engine),
        order_id=order_id,
        amount_fen=amount_fen,
        idempotency_key=idempotency_key,
        actor=actor,
        config=config or OrdersConfig.from_mapping(),
        reason=reason,
    )
