"""The ordering JSON API under /api/v1 (registered by orders.views.init_app).

POST /orders needs an `Idempotency-Key` header: the same key and body return the original
order (200, `Idempotent-Replayed: true`); the same key with another body is 422
`idempotency_conflict`. Excess orders get 429 with Retry-After. An order may name a
`voucher_code`: the student's voucher pays first (`discount_fen`) and `total_fen` is what is
charged; GET /vouchers lists the student's vouchers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request
from pydantic import BaseModel, Field

from accounts.models import Role
from app import enqueue
from columns import utcnow
from orders import billing, delivery, fulfilment, menu, queries, states, tasks, vouchers
from orders.checkout import Address, LineRequest, OrderRequest
from orders.errors import InvalidOrder
from orders.gateway_sim import gateway_mode, set_gateway_mode
from orders.models import Delivery
from orders.payments import payment_reference
from orders.queries import OrderView
from orders.views import Placement, actor, admit, local_today, place_and_pay, release, runtime
from web.api import ApiModel, api_blueprint
from web.auth import roles_required
from web.db import get_session
from web.errors import ApiError

api = api_blueprint(
    "orders_api",
    __name__,
    tag="orders",
    description="Merchants, menus, orders (idempotent), payments, deliveries",
)
api.url_value_preprocessor(admit)  # admission before any database work (orders.views)
api.teardown_request(release)
SIGNED_IN = (Role.ADMIN, Role.DESK, Role.MERCHANT, Role.COURIER, Role.STUDENT)
KITCHEN = (Role.MERCHANT, Role.ADMIN)
STAFF = (Role.ADMIN, Role.DESK)


class AddressIn(ApiModel):
    building: str = Field(max_length=120, description="dormitory or building")
    room: str = Field(max_length=40)
    phone: str = Field(default="", max_length=40)


class ItemIn(ApiModel):
    menu_item_id: int
    quantity: int
    unit_price_fen: int | None = Field(default=None, description="the price you saw (checked)")


class OrderIn(ApiModel):
    merchant_id: int
    items: list[ItemIn] = Field(max_length=100)
    address: AddressIn
    expected_total_fen: int | None = Field(
        default=None,
        description="the lines' total at menu prices, before any voucher (checked when given)",
    )
    note: str = Field(default="", max_length=200)
    voucher_code: str | None = Field(
        default=None,
        max_length=32,
        description="one of your vouchers (GET /vouchers): it pays min(its balance, the total) "
        "first; you are charged the rest",
    )


class VoucherQuery(BaseModel):
    usable: bool = Field(default=False, description="only vouchers that can pay now")
    user_id: int | None = Field(default=None, ge=1, description="desk, admin: one customer's")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=100)


class IdPath(BaseModel):
    id: int = Field(ge=1)


class OrderQuery(BaseModel):
    status: str | None = None
    merchant_id: int | None = Field(default=None, ge=1)
    since: datetime | None = Field(default=None, description="created at or after (RFC 3339)")
    until: datetime | None = Field(default=None, description="created before (RFC 3339)")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=20, ge=1, le=100)


class RejectIn(ApiModel):
    reason: str = Field(max_length=300)


class AssignIn(ApiModel):
    courier_id: int = Field(ge=1)


class PickupIn(ApiModel):
    box_id: str = Field(max_length=64)
    seal_number: str = Field(max_length=40)


class DropoffIn(ApiModel):
    seal_number: str = Field(max_length=40)


class RefundIn(ApiModel):
    amount_fen: int
    reason: str = Field(default="", max_length=300)


class GatewayIn(ApiModel):
    mode: str
    latency_ms: int = 0
    failure_rate: float = 1.0


JSON = dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def order_json(view: OrderView, *, who_role: str) -> JSON:
    """An order as the API shows it; merchants do not see the delivery address."""
    o, d = view.order, view.delivery
    out: JSON = {
        "id": o.id,
        "merchant_id": o.merchant_id,
        "merchant_name": view.merchant_name,
        "user_id": o.user_id,
        "status": o.status,
        "payment": {
            "status": o.payment_status,
            "reference": o.payment_reference,
            "paid_at": _iso(o.paid_at),
            "message": states.PAYMENT_LABELS[o.payment_status],
            "refunded_fen": o.refunded_fen,
        },
        "total_fen": o.total_fen,
        "discount_fen": o.discount_fen,
        "lines_total_fen": o.total_fen + o.discount_fen,
        "voucher_id": o.voucher_id,
        "voucher_restored_at": _iso(o.voucher_restored_at),
        "lines": [
            {
                "id": line.id,
                "menu_item_id": line.menu_item_id,
                "name": line.name,
                "unit_price_fen": line.unit_price_fen,
                "quantity": line.quantity,
            }
            for line in view.lines
        ],
        "note": o.note,
        "created_at": _iso(o.created_at),
        "accepted_at": _iso(o.accepted_at),
        "ready_at": _iso(o.ready_at),
        "reject_reason": o.reject_reason,
        "idempotency_key": o.idempotency_key,
        "ledger_index": o.ledger_index,
        "delivery": _delivery_json(d),
    }
    if who_role != "merchant":
        out["address"] = {"building": o.building, "room": o.room, "phone": o.phone}
    return out


def created_json(done: Placement) -> JSON:
    """A new order's answer from what placing and charging returned: the fields of order_json
    but its ledger index, without reading the order back (the hot path of a lunchtime rush)."""
    placed, outcome, request_ = done.placed, done.payment, done.placed.request
    assert outcome is not None and placed.created_at is not None and request_ is not None
    status = {"paid": states.PAID, "failed": states.FAILED}.get(outcome.outcome, states.DEFERRED)
    paid_at = outcome.at if status == states.PAID else None
    return {
        "id": placed.order_id,
        "merchant_id": request_.merchant_id,
        "merchant_name": placed.merchant_name,
        "user_id": request_.user_id,
        "status": states.after_failed_payment(states.PLACED)
        if status == states.FAILED
        else states.PLACED,
        "payment": {
            "status": status,
            "reference": payment_reference(placed.order_id),
            "paid_at": _iso(paid_at),
            "message": states.PAYMENT_LABELS[status],
            "refunded_fen": 0,
        },
        "total_fen": placed.total_fen,
        "discount_fen": placed.discount_fen,
        "lines_total_fen": placed.total_fen + placed.discount_fen,
        "voucher_id": placed.voucher_id,
        "voucher_restored_at": None,
        "lines": [
            {
                "id": line_id,
                "menu_item_id": line.menu_item_id,
                "name": line.name,
                "unit_price_fen": line.unit_price_fen,
                "quantity": line.quantity,
            }
            for line, line_id in zip(placed.lines, placed.line_ids, strict=True)
        ],
        "note": request_.note,
        "created_at": _iso(placed.created_at),
        "accepted_at": None,
        "ready_at": None,
        "reject_reason": None,
        "idempotency_key": request_.idempotency_key,
        "delivery": None,
        "address": {
            "building": request_.address.building,
            "room": request_.address.room,
            "phone": request_.address.phone,
        },
    }


def _delivery_json(d: Delivery | None) -> JSON | None:
    if d is None:
        return None
    return {
        "id": d.id,
        "status": d.status,
        "courier_id": d.courier_id,
        "food_class": d.food_class,
        "box_id": d.box_id,
        "seal_number": d.seal_number,
        "seal_intact": d.seal_intact,
        "assigned_at": _iso(d.assigned_at),
        "picked_up_at": _iso(d.picked_up_at),
        "dropped_off_at": _iso(d.dropped_off_at),
    }


def _one(order_id: int) -> JSON:
    who = actor()
    view = queries.get_order(session=get_session(), actor=who, order_id=order_id)
    return order_json(view, who_role=who.role)


# --------------------------------------------------------------------------- merchants, menus


@api.get("/merchants", summary="Merchants students can order from")
@roles_required(*SIGNED_IN)
def api_merchants():  # type: ignore[no-untyped-def]
    cards = menu.merchants(session=get_session(), today=local_today())
    return {
        "merchants": [
            {
                "id": c.merchant.id,
                "name": c.merchant.name,
                "location": c.merchant.location,
                "dishes": c.items,
                "open": c.open,
            }
            for c in cards
        ]
    }


@api.get("/merchants/<int:id>/menu", summary="A merchant's menu with portions left")
@roles_required(*SIGNED_IN)
def api_menu(path: IdPath):  # type: ignore[no-untyped-def]
    session = get_session()
    merchant = menu.merchant_of(session=session, merchant_id=path.id)
    return {
        "merchant": {"id": merchant.id, "name": merchant.name, "location": merchant.location},
        "items": [
            {
                "id": line.item.id,
                "name": line.item.name,
                "description": line.item.description,
                "price_fen": line.item.price_fen,
                "allergens": line.item.allergens,
                "food_class": line.item.food_class,
                "available": line.item.available and not line.sold_out,
                "sold_out": line.sold_out,
                "remaining": line.remaining,
                "photo_url": f"/orders/menu-items/{line.item.id}/photo"
                if line.item.photo_digest
                else None,
            }
            for line in menu.menu_of(session=session, merchant_id=path.id)
        ],
    }


# --------------------------------------------------------------------------- orders


@api.post(
    "/orders",
    summary="Place an order (Idempotency-Key header required)",
    description=(
        "Header `Idempotency-Key` (1-200 visible ASCII characters) is required: retrying with "
        "the same key and body returns the original order with 200; the same key with a "
        "different body is 422 `idempotency_conflict`. 201 with the order on success; the "
        "order is committed before the answer whatever the payment gateway did: "
        "`payment.status` is `paid`, `deferred` (charged when the payment service is back) or "
        "`failed`. 409 `sold_out`, `unavailable`, `price_mismatch`; 422 naming the field for "
        "bad input; 429 with Retry-After when too many orders arrive. Vouchers: with "
        "`voucher_code` one of your vouchers pays min(its balance, the lines' total) first "
        "(`discount_fen`); `total_fen` is what is charged (`lines_total_fen` - `discount_fen`; "
        "0: paid without the payment service); `expected_total_fen` is always the lines' total "
        "before the voucher. A code that is not one of yours is 422 `unknown_voucher`, an "
        "expired or spent one 409 `voucher_unusable`, both naming `voucher_code`; nothing is "
        "ordered then. If the order is rejected or cancelled, the discount goes back on the "
        "voucher."
    ),
)
@roles_required(Role.STUDENT)
def api_place_order(body: OrderIn):  # type: ignore[no-untyped-def]
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(
            400,
            "idempotency_key_required",
            "send an Idempotency-Key header (e.g. a UUID) so a retry never orders twice",
            [{"field": "Idempotency-Key", "reason": "missing"}],
        )
    who = actor()
    order_request = OrderRequest(
        user_id=who.user_id,
        merchant_id=body.merchant_id,
        items=tuple(LineRequest(i.menu_item_id, i.quantity, i.unit_price_fen) for i in body.items),
        address=Address(body.address.building, body.address.room, body.address.phone),
        idempotency_key=key,
        expected_total_fen=body.expected_total_fen,
        note=body.note,
        voucher_code=body.voucher_code,
    )
    done = place_and_pay(order_request)
    if done.payment is not None and done.recorded:
        return created_json(done), 201  # known without reading it back
    out = _one(done.placed.order_id)
    if done.placed.created:
        return out, 201
    return out, 200, {"Idempotent-Replayed": "true"}


@api.get("/orders/<int:id>", summary="One order (students: their own)")
@roles_required(*SIGNED_IN)
def api_order(path: IdPath):  # type: ignore[no-untyped-def]
    return _one(path.id)


@api.get("/orders", summary="Orders the caller may see, newest first, filtered and paged")
@roles_required(*SIGNED_IN)
def api_orders(query: OrderQuery):  # type: ignore[no-untyped-def]
    who = actor()
    if query.since and query.until and query.since >= query.until:
        raise InvalidOrder("since must be before until", field="since")
    result = queries.list_orders(
        session=get_session(),
        actor=who,
        filters=queries.OrderFilter(
            status=query.status,
            merchant_id=query.merchant_id,
            since=query.since,
            until=query.until,
            page=query.page,
            per_page=query.per_page,
        ),
    )
    return {
        "items": [order_json(v, who_role=who.role) for v in result.items],
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
    }


@api.get("/orders/incoming", summary="A kitchen's open orders (for the live page)")
@roles_required(*KITCHEN)
def api_incoming():  # type: ignore[no-untyped-def]
    who = actor()
    merchant_id = (
        who.merchant_id if who.role == "merchant" else request.args.get("merchant_id", type=int)
    )
    views = queries.incoming(session=get_session(), merchant_id=merchant_id) if merchant_id else []
    signature = ",".join(f"{v.order.id}:{v.order.ledger_index}" for v in views)
    return {
        "orders": [
            {"id": v.order.id, "status": v.order.status, "payment_status": v.order.payment_status}
            for v in views
        ],
        "signature": signature,
        "generated_at": utcnow().isoformat(),
    }


# --------------------------------------------------------------------------- kitchen


@api.post("/orders/<int:id>/accept", summary="The kitchen accepts an order")
@roles_required(*KITCHEN)
def api_accept(path: IdPath):  # type: ignore[no-untyped-def]
    fulfilment.accept(session=get_session(), actor=actor(), order_id=path.id)
    return _one(path.id)


@api.post("/orders/<int:id>/ready", summary="The kitchen marks an order ready for pickup")
@roles_required(*KITCHEN)
def api_ready(path: IdPath):  # type: ignore[no-untyped-def]
    fulfilment.mark_ready(session=get_session(), actor=actor(), order_id=path.id)
    return _one(path.id)


@api.post("/orders/<int:id>/reject", summary="The kitchen rejects an order (refunded if paid)")
@roles_required(*KITCHEN)
def api_reject(path: IdPath, body: RejectIn):  # type: ignore[no-untyped-def]
    order = fulfilment.reject(
        session=get_session(), actor=actor(), order_id=path.id, reason=body.reason
    )
    if order.payment_status == states.PAID:
        enqueue(tasks.refund_rejected, path.id)
    return _one(path.id)


# --------------------------------------------------------------------------- deliveries


@api.post("/orders/<int:id>/courier", summary="Assign a courier (desk) or claim (courier)")
@roles_required(Role.ADMIN, Role.DESK, Role.COURIER)
def api_assign(path: IdPath, body: AssignIn):  # type: ignore[no-untyped-def]
    delivery.assign(
        session=get_session(), actor=actor(), order_id=path.id, courier_id=body.courier_id
    )
    return _one(path.id), 201


@api.post("/deliveries/<int:id>/pickup", summary="Pickup: box id and seal number (courier)")
@roles_required(Role.COURIER, Role.ADMIN, Role.DESK)
def api_pickup(path: IdPath, body: PickupIn):  # type: ignore[no-untyped-def]
    done = delivery.pickup(
        session=get_session(),
        actor=actor(),
        delivery_id=path.id,
        box_id=body.box_id,
        seal_number=body.seal_number,
    )
    return _one(done.order_id)


@api.post("/deliveries/<int:id>/dropoff", summary="Drop-off: the seal number read again")
@roles_required(Role.COURIER, Role.ADMIN, Role.DESK)
def api_dropoff(path: IdPath, body: DropoffIn):  # type: ignore[no-untyped-def]
    done = delivery.dropoff(
        session=get_session(), actor=actor(), delivery_id=path.id, seal_number=body.seal_number
    )
    return _one(done.order_id)


# --------------------------------------------------------------------------- vouchers


def voucher_json(view: vouchers.VoucherView) -> JSON:
    v = view.voucher
    return {
        "id": v.id,
        "code": v.code,
        "user_id": v.user_id,
        "amount_fen": v.amount_fen,
        "balance_fen": v.balance_fen,
        "status": view.status,
        "source_order_id": v.source_order_id,
        "reason": v.reason,
        "issued_at": _iso(v.issued_at),
        "expires_at": _iso(v.expires_at),
        "ledger_index": v.ledger_index,
    }


@api.get(
    "/vouchers",
    summary="Vouchers: a student's own; the desk's and admins' every one (filter user_id)",
    description=(
        "Compensation vouchers the complaint desk issued, newest first, paged. `status` is "
        "`usable`, `spent` (no balance left) or `expired`; `usable=true` lists only those that "
        "can pay now. Spend one with `voucher_code` on POST /orders. Merchants and couriers: "
        "403."
    ),
)
@roles_required(Role.STUDENT, *STAFF)
def api_vouchers(query: VoucherQuery):  # type: ignore[no-untyped-def]
    who = actor()
    page = vouchers.list_vouchers(
        session=get_session(),
        actor=who,
        user_id=query.user_id if who.is_staff else None,
        usable_only=query.usable,
        page=query.page,
        per_page=query.per_page,
    )
    return {
        "items": [voucher_json(v) for v in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
    }


# --------------------------------------------------------------------------- payments


@api.post(
    "/orders/<int:id>/refunds",
    summary="Refund part or all of a paid order (Idempotency-Key header required)",
)
@roles_required(*STAFF)
def api_refund(path: IdPath, body: RefundIn):  # type: ignore[no-untyped-def]
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise ApiError(400, "idempotency_key_required", "send an Idempotency-Key header")
    rt = runtime()
    result = billing.refund(
        session=get_session(),
        gateway=rt.gateway,
        order_id=path.id,
        amount_fen=body.amount_fen,
        idempotency_key=key,
        actor=actor().ledger_actor,
        config=rt.config,
        reason=body.reason,
    )
    return {
        "refund_id": result.refund_id,
        "order_id": result.order_id,
        "reference": result.reference,
        "amount_fen": result.amount_fen,
        "status": result.status,
    }, 201 if result.status != "failed" else 422


@api.get("/payments/gateway", summary="The simulated payment gateway's mode (admins)")
@roles_required(Role.ADMIN)
def api_gateway():  # type: ignore[no-untyped-def]
    session = get_session()
    session.commit()  # the gateway reads on its own connection (SQLite: free the file first)
    state = gateway_mode(session.get_bind())  # type: ignore[arg-type]
    return {"mode": state.mode, "latency_ms": state.latency_ms, "failure_rate": state.failure_rate}


@api.put("/payments/gateway", summary="Set the simulated gateway's mode (admins, tests)")
@roles_required(Role.ADMIN)
def api_set_gateway(body: GatewayIn):  # type: ignore[no-untyped-def]
    state = set_gateway_mode(
        session=get_session(),
        mode=body.mode,
        latency_ms=body.latency_ms,
        failure_rate=body.failure_rate,
        actor=actor().ledger_actor,
    )
    return {"mode": state.mode, "latency_ms": state.latency_ms, "failure_rate": state.failure_rate}


@api.post("/payments/reconcile", summary="Retry due deferred charges now (admins)")
@roles_required(Role.ADMIN)
def api_reconcile():  # type: ignore[no-untyped-def]
    rt = runtime()
    report = billing.reconcile_payments(session=get_session(), gateway=rt.gateway, config=rt.config)
    return {
        "claimed": report.claimed,
        "paid": report.paid,
        "failed": report.failed,
        "deferred": report.deferred,
        "refunds_settled": report.refunds_settled,
    }
