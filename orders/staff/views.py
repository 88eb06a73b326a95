"""The working side of ordering: the kitchen (incoming orders, menu, production), the courier's
phone page (claim, pickup, drop-off), the desk (orders, couriers, refunds) and the payment
gateway switch for administrators. Registered by orders.views.init_app."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import col, select

from accounts.models import Role, User
from app import enqueue
from columns import utcnow
from orders import billing, delivery, errors, fulfilment, menu, queries, states, tasks
from orders.gateway_sim import gateway_mode, set_gateway_mode
from orders.menu import MenuItemData
from orders.models import Order
from orders.payments import GATEWAY_MODES
from orders.views import CLASS_LABELS, actor, runtime
from sensors.profiles import FOOD_CLASSES
from trace import service as trace_service
from trace.access import Viewer
from trace.commands import BatchProduction, InputUse
from trace.errors import TraceError
from trace.models import Merchant, Product
from web.auth import roles_required
from web.db import get_session

bp = Blueprint("orders_staff", __name__, url_prefix="/orders", template_folder="../templates")
KITCHEN = (Role.MERCHANT, Role.ADMIN)
STAFF = (Role.ADMIN, Role.DESK)


def _merchant_id() -> int | None:
    """The kitchen shown: a merchant user's own; an administrator picks one (?merchant_id=)."""
    who = actor()
    if who.role == "merchant":
        return who.merchant_id
    raw = request.values.get("merchant_id", type=int)
    return raw if raw and raw > 0 else None


def _back(endpoint: str, merchant_id: int | None) -> Any:
    args = {"merchant_id": merchant_id} if actor().role == "admin" and merchant_id else {}
    return redirect(url_for(endpoint, **args))


def _all_merchants() -> list[Merchant]:
    return list(get_session().exec(select(Merchant).order_by(col(Merchant.id))).all())


# --------------------------------------------------------------------------- kitchen


@bp.get("/kitchen")
@roles_required(*KITCHEN)
def kitchen_page():  # type: ignore[no-untyped-def]
    merchant_id = _merchant_id()
    session = get_session()
    merchant = session.get(Merchant, merchant_id) if merchant_id else None
    views = queries.incoming(session=session, merchant_id=merchant_id) if merchant else []
    return render_template(
        "orders/kitchen.html",
        merchant=merchant,
        views=views,
        merchants=_all_merchants() if actor().role == "admin" else [],
    )


def _kitchen_action(order_id: int, action: str) -> Any:
    session, who = get_session(), actor()
    try:
        if action == "accept":
            fulfilment.accept(session=session, actor=who, order_id=order_id)
        elif action == "ready":
            fulfilment.mark_ready(session=session, actor=who, order_id=order_id)
        else:
            order = fulfilment.reject(
                session=session,
                actor=who,
                order_id=order_id,
                reason=request.form.get("reason", ""),
            )
            if order.payment_status == states.PAID:
                enqueue(tasks.refund_rejected, order_id)
        flash(_("Order #%(id)s: %(status)s", id=order_id, status=_(_status_label(order_id))))
    except (errors.OrderError, errors.NotFound) as exc:
        session.rollback()
        flash(_("Order #%(id)s: %(reason)s", id=order_id, reason=str(exc)))
    return _back("orders_staff.kitchen_page", _merchant_id())


def _status_label(order_id: int) -> str:
    order = get_session().get(Order, order_id)
    return states.ORDER_LABELS.get(order.status, "") if order else ""


@bp.post("/kitchen/<int:order_id>/accept")
@roles_required(*KITCHEN)
def kitchen_accept(order_id: int):  # type: ignore[no-untyped-def]
    return _kitchen_action(order_id, "accept")


@bp.post("/kitchen/<int:order_id>/ready")
@roles_required(*KITCHEN)
def kitchen_ready(order_id: int):  # type: ignore[no-untyped-def]
    return _kitchen_action(order_id, "ready")


@bp.post("/kitchen/<int:order_id>/reject")
@roles_required(*KITCHEN)
def kitchen_reject(order_id: int):  # type: ignore[no-untyped-def]
    return _kitchen_action(order_id, "reject")


# --------------------------------------------------------------------------- menu, production


@bp.get("/kitchen/menu")
@roles_required(*KITCHEN)
def kitchen_menu_page():  # type: ignore[no-untyped-def]
    merchant_id = _merchant_id()
    session = get_session()
    merchant = session.get(Merchant, merchant_id) if merchant_id else None
    lines, batches, lots, candidates = [], {}, [], {}
    if merchant is not None:
        lines = menu.menu_of(
            session=session, merchant_id=merchant.id or 0, include_unavailable=True
        )
        ids = [line.item.id for line in lines if line.item.id is not None]
        for mb, batch in menu.batches_of(session=session, item_ids=ids):
            batches.setdefault(mb.menu_item_id, []).append((mb, batch))
        viewer = Viewer(actor="orders", role="merchant", merchant_id=merchant.id)
        lots = [
            lot
            for lot in trace_service.list_lots(session=session, viewer=viewer, limit=100)
            if lot.status == "active"
        ]
        recent = trace_service.list_batches(session=session, viewer=viewer, limit=100)
        for line in lines:
            candidates[line.item.id] = [
                b for b in recent
                if b.product_id == line.item.product_id and b.status == "active"
                and b.unit in menu.SERVING_UNITS
                and all(b.id != mb.batch_id for mb, _b in batches.get(line.item.id, []))
            ]  # fmt: skip
    products = list(session.exec(select(Product).order_by(col(Product.name))).all())
    return render_template(
        "orders/kitchen_menu.html",
        merchant=merchant,
        lines=lines,
        batches=batches,
        lots=lots,
        candidates=candidates,
        products=products,
        classes=FOOD_CLASSES,
        class_labels=CLASS_LABELS,
        merchants=_all_merchants() if actor().role == "admin" else [],
        now_local=utcnow().astimezone(_tz()).strftime("%Y-%m-%dT%H:%M"),
    )


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.extensions["foodtrace"].settings.timezone)


def _price_fen(raw: str) -> int:
    """'12.5' yuan as 1250 fen."""
    try:
        value = round(float(raw.strip()) * 100)
    except ValueError:
        raise errors.MenuError(_("the price is not a number"), field="price") from None
    return int(value)


def _item_data() -> MenuItemData:
    form = request.form
    return MenuItemData(
        name=form.get("name", ""),
        price_fen=_price_fen(form.get("price", "")),
        product_id=int(form.get("product_id", "0") or 0),
        food_class=form.get("food_class", ""),
        allergens=tuple(a for a in form.get("allergens", "").replace("，", ",").split(",")),
        description=form.get("description", ""),
        available=form.get("available") == "on",
    )


def _menu_write(fn: Any, done: str) -> Any:
    session = get_session()
    try:
        fn(session)
        flash(done)
    except (errors.OrderError, errors.NotFound, errors.Forbidden, TraceError) as exc:
        session.rollback()
        field = getattr(exc, "field", None)
        flash(_("Not saved: %(reason)s", reason=f"{exc} ({field})" if field else str(exc)))
    return _back("orders_staff.kitchen_menu_page", _merchant_id())


@bp.post("/kitchen/menu")
@roles_required(*KITCHEN)
def create_item():  # type: ignore[no-untyped-def]
    merchant_id = _merchant_id()
    return _menu_write(
        lambda s: menu.save_menu_item(
            session=s, actor=actor(), data=_item_data(), merchant_id=merchant_id
        ),
        _("Dish added to the menu."),
    )


@bp.post("/kitchen/menu/<int:item_id>")
@roles_required(*KITCHEN)
def update_item(item_id: int):  # type: ignore[no-untyped-def]
    return _menu_write(
        lambda s: menu.save_menu_item(session=s, actor=actor(), data=_item_data(), item_id=item_id),
        _("Dish saved."),
    )


@bp.post("/kitchen/menu/<int:item_id>/photo")
@roles_required(*KITCHEN)
def upload_photo(item_id: int):  # type: ignore[no-untyped-def]
    upload = request.files.get("photo")
    content = upload.read() if upload is not None else b""
    return _menu_write(
        lambda s: menu.set_photo(session=s, actor=actor(), item_id=item_id, content=content),
        _("Photo saved."),
    )


@bp.post("/kitchen/menu/<int:item_id>/production")
@roles_required(*KITCHEN)
def record_production(item_id: int):  # type: ignore[no-untyped-def]
    def produce(session: Any) -> None:
        item = menu.get_item(session=session, item_id=item_id)
        form = request.form
        inputs = tuple(
            InputUse(quantity=float(q), unit=u, kind="lot", id=int(lot))
            for lot, q, u in zip(
                form.getlist("lot_id"), form.getlist("lot_quantity"), form.getlist("lot_unit"),
                strict=False,
            )
            if lot and q
        )  # fmt: skip
        completed = datetime.fromisoformat(form.get("completed_at", "")).replace(tzinfo=_tz())
        portions = int(form.get("portions", "0") or 0)
        production = BatchProduction(
            batch_code=form.get("batch_code", ""),
            product_id=item.product_id,
            quantity=float(portions),
            unit="portion",
            completed_at=completed,
            inputs=inputs,
            location=form.get("location") or None,
        )
        menu.produce_and_open(
            session=session,
            actor=actor(),
            menu_item_id=item_id,
            production=production,
            tz=current_app.extensions["foodtrace"].settings.timezone,
        )

    try:
        return _menu_write(produce, _("Production recorded; the batch now serves this dish."))
    except ValueError:
        get_session().rollback()
        flash(_("Not saved: %(reason)s", reason=_("check the quantities and the time")))
        return _back("orders_staff.kitchen_menu_page", _merchant_id())


@bp.post("/kitchen/menu/<int:item_id>/batches")
@roles_required(*KITCHEN)
def open_existing_batch(item_id: int):  # type: ignore[no-untyped-def]
    batch_id = request.form.get("batch_id", type=int) or 0
    return _menu_write(
        lambda s: menu.open_batch(
            session=s, actor=actor(), menu_item_id=item_id, batch_id=batch_id
        ),
        _("The batch now serves this dish."),
    )


@bp.post("/kitchen/batches/<int:menu_batch_id>/close")
@roles_required(*KITCHEN)
def close_batch(menu_batch_id: int):  # type: ignore[no-untyped-def]
    return _menu_write(
        lambda s: menu.close_batch(session=s, actor=actor(), menu_batch_id=menu_batch_id),
        _("The batch no longer serves this dish."),
    )


# --------------------------------------------------------------------------- courier


@bp.get("/courier")
@roles_required(Role.COURIER)
def courier_page():  # type: ignore[no-untyped-def]
    session, who = get_session(), actor()
    board = queries.courier_board(session=session, actor=who)
    done = queries.recent_deliveries(session=session, actor=who, limit=10)
    return render_template("orders/courier.html", board=board, done=done)


def _courier_action(fn: Any, done: str) -> Any:
    session = get_session()
    try:
        fn(session)
        flash(done)
    except (errors.OrderError, errors.NotFound, errors.Forbidden) as exc:
        session.rollback()
        flash(_("Not recorded: %(reason)s", reason=str(exc)))
    return redirect(url_for("orders_staff.courier_page"))


@bp.post("/courier/claim/<int:order_id>")
@roles_required(Role.COURIER)
def courier_claim(order_id: int):  # type: ignore[no-untyped-def]
    who = actor()
    return _courier_action(
        lambda s: delivery.assign(session=s, actor=who, order_id=order_id, courier_id=who.user_id),
        _("Order #%(id)s is yours.", id=order_id),
    )


@bp.post("/courier/deliveries/<int:delivery_id>/pickup")
@roles_required(Role.COURIER)
def courier_pickup(delivery_id: int):  # type: ignore[no-untyped-def]
    return _courier_action(
        lambda s: delivery.pickup(
            session=s,
            actor=actor(),
            delivery_id=delivery_id,
            box_id=request.form.get("box_id", ""),
            seal_number=request.form.get("seal_number", ""),
        ),
        _("Picked up. Drive safely."),
    )


@bp.post("/courier/deliveries/<int:delivery_id>/dropoff")
@roles_required(Role.COURIER)
def courier_dropoff(delivery_id: int):  # type: ignore[no-untyped-def]
    def drop(session: Any) -> None:
        done = delivery.dropoff(
            session=session,
            actor=actor(),
            delivery_id=delivery_id,
            seal_number=request.form.get("seal_number", ""),
        )
        if not done.seal_intact:
            flash(_("The seal number differs from pickup: recorded as a broken seal."))

    return _courier_action(drop, _("Delivered."))


# --------------------------------------------------------------------------- desk


@bp.get("/desk")
@roles_required(*STAFF)
def desk_page():  # type: ignore[no-untyped-def]
    session = get_session()
    status = request.args.get("status") or None
    page = max(1, request.args.get("page", 1, type=int) or 1)
    merchant_id = request.args.get("merchant_id", type=int) or None
    filters = queries.OrderFilter(status=status if status in states.ORDER_STATUSES else None,
                                  merchant_id=merchant_id, page=page, per_page=30)  # fmt: skip
    result = queries.list_orders(session=session, actor=actor(), filters=filters)
    couriers = session.exec(
        select(User).where(User.role == "courier", col(User.is_active).is_(True))
    ).all()
    return render_template(
        "orders/desk.html",
        result=result,
        couriers=couriers,
        statuses=states.ORDER_STATUSES,
        status=filters.status,
        merchant_id=merchant_id,
        merchants=_all_merchants(),
    )


@bp.post("/desk/<int:order_id>/courier")
@roles_required(*STAFF)
def desk_assign(order_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    try:
        delivery.assign(
            session=session,
            actor=actor(),
            order_id=order_id,
            courier_id=request.form.get("courier_id", type=int) or 0,
        )
        flash(_("Courier assigned to order #%(id)s.", id=order_id))
    except (errors.OrderError, errors.NotFound, errors.Forbidden) as exc:
        session.rollback()
        flash(_("Not assigned: %(reason)s", reason=str(exc)))
    return redirect(request.referrer or url_for("orders_staff.desk_page"))


@bp.post("/desk/<int:order_id>/refund")
@roles_required(*STAFF)
def desk_refund(order_id: int):  # type: ignore[no-untyped-def]
    session, rt = get_session(), runtime()
    try:
        result = billing.refund(
            session=session,
            gateway=rt.gateway,
            order_id=order_id,
            amount_fen=round(float(request.form.get("amount", "0") or 0) * 100),
            idempotency_key=request.form.get("idempotency_key", ""),
            actor=actor().ledger_actor,
            config=rt.config,
            reason=request.form.get("reason", ""),
        )
        flash(_("Refund %(status)s.", status=_(result.status)))
    except (errors.OrderError, errors.NotFound, ValueError) as exc:
        session.rollback()
        flash(_("No refund: %(reason)s", reason=str(exc)))
    return redirect(url_for("orders.order_page", order_id=order_id))


# --------------------------------------------------------------------------- payments (admin)


@bp.get("/admin/payments")
@roles_required(Role.ADMIN)
def payments_page():  # type: ignore[no-untyped-def]
    session = get_session()
    session.commit()  # the gateway reads on its own connection (SQLite: free the file first)
    state = gateway_mode(current_app.extensions["foodtrace"].engine)
    rt = runtime()
    counts = dict(
        session.exec(
            select(Order.payment_status, _count()).group_by(Order.payment_status)  # type: ignore[arg-type]
        ).all()
    )
    overdue = session.exec(
        select(_count()).where(
            Order.payment_status == states.DEFERRED,
            col(Order.next_payment_at) <= utcnow(),
        )
    ).one()
    return render_template(
        "orders/payments.html",
        state=state,
        modes=GATEWAY_MODES,
        counts=counts,
        overdue=overdue,
        timeout=rt.config.payment_timeout_seconds,
        statuses=states.PAYMENT_STATUSES,
    )


def _count() -> Any:
    from sqlalchemy import func

    return func.count()


@bp.post("/admin/payments")
@roles_required(Role.ADMIN)
def set_payments_mode():  # type: ignore[no-untyped-def]
    session = get_session()
    try:
        set_gateway_mode(
            session=session,
            mode=request.form.get("mode", ""),
            latency_ms=request.form.get("latency_ms", 0, type=int) or 0,
            failure_rate=request.form.get("failure_rate", 1.0, type=float),
            actor=actor().ledger_actor,
        )
        flash(_("Payment gateway mode saved."))
    except ValueError as exc:
        session.rollback()
        flash(_("Not saved: %(reason)s", reason=str(exc)))
    return redirect(url_for("orders_staff.payments_page"))


@bp.post("/admin/payments/reconcile")
@roles_required(Role.ADMIN)
def reconcile_now():  # type: ignore[no-untyped-def]
    rt = runtime()
    report = billing.reconcile_payments(
        session=get_session(), gateway=rt.gateway, config=rt.config, now=utcnow() + timedelta(0)
    )
    flash(
        _(
            "Reconciled: %(paid)s paid, %(failed)s failed, %(deferred)s still deferred.",
            paid=report.paid,
            failed=report.failed,
            deferred=report.deferred,
        )
    )
    return redirect(url_for("orders_staff.payments_page"))
