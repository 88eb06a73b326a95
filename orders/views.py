"""Ordering on the web: the student pages (merchants, menu, cart, checkout, status, history),
the per-process runtime (admission gates, group committer, payment gateway), and `init_app`,
which registers these pages, the kitchen/courier/desk pages (orders/staff/views.py) and the
JSON API (orders/api/views.py)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from accounts.models import Role
from app import make_engine
from columns import utcnow
from orders import billing, errors, menu, placement, queries, states, tracing, vouchers
from orders.access import Actor
from orders.admission import Admission, Overloaded
from orders.checkout import Address, LineRequest, OrderRequest
from orders.committer import GroupCommitter, WriterBusy
from orders.edge import ADMITTED, AdmissionGate
from orders.gateway_sim import GatewayModeError
from orders.payments import PaymentGateway
from orders.rules import OrdersConfig
from orders.service import gateway_for
from web.auth import current_user, roles_required
from web.db import get_session
from web.errors import register_error
from web.i18n import N_

# Links this domain adds to each role's home page (collected by web.factory); the kitchen,
# courier, desk and payment pages are in orders.staff.views.
HOME_LINKS = {
    "student": [
        (N_("Order food"), "/orders/"),
        (N_("My orders"), "/orders/history"),
        (N_("My vouchers"), "/orders/vouchers"),
    ],
    "merchant": [
        (N_("Incoming orders"), "/orders/kitchen"),
        (N_("Menu and batches"), "/orders/kitchen/menu"),
    ],
    "courier": [(N_("My deliveries"), "/orders/courier")],
    "desk": [(N_("Orders and deliveries"), "/orders/desk")],
    "admin": [(N_("Payments"), "/orders/admin/payments")],
}

bp = Blueprint(
    "orders",
    __name__,
    url_prefix="/orders",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
SIGNED_IN = (Role.ADMIN, Role.DESK, Role.MERCHANT, Role.COURIER, Role.STUDENT)
CART = "orders_cart"
ADDRESS = "orders_address"


def N_(message: str) -> str:
    """Marks a string for extraction; translated where it is shown."""
    return message


VOUCHER_LABELS = {
    "usable": N_("Usable"),
    "spent": N_("Spent"),
    "expired": N_("Expired"),
}
CLASS_LABELS = {
    "hot": N_("Hot food"),
    "cold": N_("Chilled food"),
    "frozen": N_("Frozen food"),
    "ambient": N_("Ambient food"),
}


# --------------------------------------------------------------------------- runtime


@dataclass
class OrdersRuntime:
    """What one process keeps for ordering: rules, gates, the writer, the gateway."""

    config: OrdersConfig
    admission: Admission
    committer: GroupCommitter
    gateway: PaymentGateway


_runtime_lock = threading.Lock()
GATEWAY_POOL = 32  # connections of the simulated gateway (one per request thread charging)


def runtime(app: Flask | None = None, *, rebuild: bool = False) -> OrdersRuntime:
    """The app's ordering runtime, built on first use from its config (tests may rebuild it
    after changing `app.config["ORDERS_..."]`)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    ext = app.extensions["foodtrace"]
    if not rebuild:  # the common case, without the lock (a dict read is atomic)
        found = ext.extras.get("orders")
        if found is not None:
            return found  # type: ignore[no-any-return]
    with _runtime_lock:
        found = ext.extras.get("orders")
        if found is not None and not rebuild:
            return found  # type: ignore[no-any-return]
        config = OrdersConfig.from_mapping(app.config)
        built = OrdersRuntime(
            config=config,
            admission=Admission(
                ext.settings.rate_limit_storage_url,
                user_per_minute=config.user_orders_per_minute,
                merchant_per_second=config.merchant_orders_per_second,
                max_in_flight=config.max_in_flight,
                max_in_flight_per_process=config.max_in_flight_per_process,
            ),
            committer=GroupCommitter(ext.engine, config, tz=ext.settings.timezone),
            gateway=gateway_for(
                _gateway_engine(ext), app.config.get("ORDERS_PAYMENT_GATEWAY", "simulated")
            ),
        )
        ext.extras["orders"] = built
        return built


def _gateway_engine(ext: Any) -> Any:
    """The simulated gateway stands for an outside service: on PostgreSQL it gets a pool of its
    own, so charges never push the app's pool into opening and closing overflow connections
    (each a new server process). Tests and SQLite share the app's engine."""
    settings = ext.settings
    if settings.testing or not settings.database_url.startswith("postgres"):
        return ext.engine
    # no pre-ping: a charge that meets a dead connection fails as "gateway unavailable" and
    # the order is deferred, then reconciled - the outage path, not a lost order
    return make_engine(
        settings.database_url,
        pool_size=GATEWAY_POOL,
        max_overflow=GATEWAY_POOL,
        pool_pre_ping=False,
    )


def edge_admission(app: Flask) -> Admission | None:
    """The gates the WSGI edge gate uses (orders.edge), None when ORDERS_EDGE_GATE is off."""
    rt = runtime(app)
    return rt.admission if rt.config.edge_gate else None


def actor() -> Actor:
    """The signed-in user as the ordering services see it."""
    user = current_user()
    assert user is not None and user.id is not None
    return Actor(user.id, user.role, user.merchant_id)


def local_today() -> date:
    tz = ZoneInfo(current_app.extensions["foodtrace"].settings.timezone)
    return utcnow().astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class Placement:
    """What placing answered: the order, and (new orders) what the charge did."""

    placed: placement.Placed
    payment: placement.PaymentOutcome | None = None  # None: an earlier request's order
    recorded: bool = False  # the outcome is the order's state (nobody settled it first)


def place_and_pay(request_: OrderRequest) -> Placement:
    """Admit, place (group commit) and charge an order; the order is committed before this
    returns, whatever the gateway did. Raises Overloaded, WriterBusy or an OrderError."""
    rt = runtime()
    request_session = get_session()
    # Give the request's connection back while waiting: the writer and the gateway need
    # connections from the same pool (and SQLite's BEGIN IMMEDIATE would hold the file).
    request_session.commit()
    if rt.config.group_commit:
        placed = rt.committer.place(request_)
    else:
        placed = placement.place_order(session=request_session, request=request_, config=rt.config)
    if not placed.created:
        return Placement(placed)
    outcome = billing.charge(
        rt.gateway,
        order_id=placed.order_id,
        amount_fen=placed.total_fen,
        timeout=rt.config.payment_timeout_seconds,
    )
    if rt.config.group_commit:
        recorded = rt.committer.record(outcome)
    else:
        recorded = placement.record_payment(
            session=request_session, outcome=outcome, config=rt.config
        )
    return Placement(placed, outcome, recorded)


# Order placements pass the admission gates before anything else runs - before the caller is
# looked up in the database - so refusing the excess of a storm costs next to nothing.
GATED = frozenset({"orders.checkout", "orders_api.api_place_order"})


def admit(endpoint: str | None, _values: Any) -> None:
    """URL value preprocessor (Flask runs these before every before_request hook): take an
    in-flight slot and count the attempt for the caller and the merchant; Overloaded (429)
    otherwise. The slot is given back at teardown."""
    if endpoint not in GATED or request.method != "POST" or request.environ.get(ADMITTED):
        return  # not an order, or admitted at the edge already (orders.edge)
    rt = runtime()
    g.orders_slot = rt.admission.admit(user=_caller_key(), merchant_id=_merchant_asked())


def release(_exc: BaseException | None) -> None:
    """Teardown: give back the in-flight slot `admit` took."""
    if "orders_slot" in g:
        runtime().admission.leave(g.pop("orders_slot"))


def _caller_key() -> str:
    """Who is ordering, without the database: the bearer token's digest or the session's user."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return "t:" + hashlib.sha256(header[7:].strip().encode()).hexdigest()[:32]
    return f"u:{session.get('uid')}"


def _merchant_asked() -> int | None:
    """The merchant an order is for: the JSON body's (API) or the cart's (pages)."""
    if request.is_json:
        body = request.get_json(silent=True)
        value = body.get("merchant_id") if isinstance(body, dict) else None
    else:
        value = _cart().get("merchant_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


bp.url_value_preprocessor(admit)
bp.teardown_request(release)


def yuan(fen: int | None) -> str:
    """Fen as ¥12.50."""
    fen = fen or 0
    return f"¥{fen // 100}.{fen % 100:02d}"


def local_time(moment: Any, fmt: str = "%m-%d %H:%M", /) -> str:
    """A UTC time in the deployment's time zone."""
    if moment is None:
        return ""
    tz = ZoneInfo(current_app.extensions["foodtrace"].settings.timezone)
    return str(moment.astimezone(tz).strftime(fmt))


@bp.app_context_processor
def _labels() -> dict[str, Any]:
    return {
        "order_labels": states.ORDER_LABELS,
        "payment_labels": states.PAYMENT_LABELS,
        "delivery_labels": states.DELIVERY_LABELS,
        "food_class_labels": CLASS_LABELS,
    }


# --------------------------------------------------------------------------- merchants, menu


@bp.get("/")
@roles_required(*SIGNED_IN)
def merchants_page():  # type: ignore[no-untyped-def]
    cards = menu.merchants(session=get_session(), today=local_today())
    return render_template("orders/merchants.html", cards=cards)


@bp.get("/merchants/<int:merchant_id>")
@roles_required(*SIGNED_IN)
def menu_page(merchant_id: int):  # type: ignore[no-untyped-def]
    session_ = get_session()
    merchant = menu.merchant_of(session=session_, merchant_id=merchant_id)
    lines = menu.menu_of(session=session_, merchant_id=merchant_id)
    open_now = merchant.licence_expires_on >= local_today()
    cart = _cart()
    return render_template(
        "orders/menu.html",
        merchant=merchant,
        lines=lines,
        open_now=open_now,
        in_cart=cart["items"] if cart.get("merchant_id") == merchant_id else {},
        max_quantity=runtime().config.max_quantity_per_line,
    )


@bp.get("/menu-items/<int:item_id>/photo")
@roles_required(*SIGNED_IN)
def photo(item_id: int):  # type: ignore[no-untyped-def]
    found = menu.photo_of(session=get_session(), item_id=item_id)
    resp = Response(found.content, mimetype=found.mimetype)
    resp.headers["Cache-Control"] = "private, max-age=3600"
    return resp


# --------------------------------------------------------------------------- cart (session)


def _cart() -> dict[str, Any]:
    """The signed-in student's cart: one merchant's items, kept in the session cookie."""
    cart = session.get(CART)
    if not isinstance(cart, dict) or not isinstance(cart.get("items"), dict):
        return {"merchant_id": None, "items": {}, "key": secrets.token_urlsafe(16)}
    return cart


def _save_cart(cart: dict[str, Any]) -> None:
    session[CART] = cart
    session.modified = True


def _form_int(name: str, default: int | None = None) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise errors.InvalidOrder(
            _("%(name)s must be a whole number", name=name), field=name
        ) from None


@bp.post("/cart/add")
@roles_required(Role.STUDENT)
def cart_add():  # type: ignore[no-untyped-def]
    item_id = _form_int("menu_item_id")
    quantity = _form_int("quantity", 1) or 1
    item = menu.get_item(session=get_session(), item_id=item_id or 0)
    cart = _cart()
    if cart.get("merchant_id") not in (None, item.merchant_id) and cart["items"]:
        flash(_("Your cart held dishes of another merchant; it now holds this one only."))
        cart = {"merchant_id": None, "items": {}, "key": secrets.token_urlsafe(16)}
    cart["merchant_id"] = item.merchant_id
    limit = runtime().config.max_quantity_per_line
    have = int(cart["items"].get(str(item.id), 0))
    cart["items"][str(item.id)] = max(1, min(limit, have + quantity))
    _save_cart(cart)
    flash(_("Added %(name)s to your cart.", name=item.name))
    return redirect(url_for("orders.menu_page", merchant_id=item.merchant_id))


@bp.post("/cart/update")
@roles_required(Role.STUDENT)
def cart_update():  # type: ignore[no-untyped-def]
    cart = _cart()
    limit = runtime().config.max_quantity_per_line
    for key in list(cart["items"]):
        quantity = _form_int(f"quantity_{key}", int(cart["items"][key]))
        if request.form.get("remove") == key or not quantity or quantity <= 0:
            cart["items"].pop(key)
        else:
            cart["items"][key] = min(limit, quantity)
    if not cart["items"]:
        cart["merchant_id"] = None
    _save_cart(cart)
    return redirect(url_for("orders.cart_page"))


@bp.get("/cart")
@roles_required(Role.STUDENT)
def cart_page():  # type: ignore[no-untyped-def]
    cart = _cart()
    _save_cart(cart)  # keep the checkout key stable across reloads
    session_ = get_session()
    lines, merchant = [], None
    if cart["items"]:
        merchant = menu.merchant_of(session=session_, merchant_id=cart["merchant_id"])
        by_id = {
            str(line.item.id): line
            for line in menu.menu_of(session=session_, merchant_id=merchant.id or 0)
        }
        for key, quantity in cart["items"].items():
            if key in by_id:
                lines.append((by_id[key], int(quantity)))
    total = sum(line.item.price_fen * quantity for line, quantity in lines)
    usable = []
    if lines:  # the student's vouchers that can pay now, soonest to expire first
        found = vouchers.list_vouchers(
            session=session_, actor=actor(), usable_only=True, per_page=vouchers.MAX_PER_PAGE
        )
        usable = sorted(found.items, key=lambda v: (v.voucher.expires_at, v.voucher.id or 0))
    return render_template(
        "orders/cart.html",
        cart=cart,
        lines=lines,
        merchant=merchant,
        total=total,
        address=session.get(ADDRESS) or {},
        max_quantity=runtime().config.max_quantity_per_line,
        vouchers=usable,
        voucher_code=cart.get("voucher_code") or "",
    )


@bp.post("/checkout")
@roles_required(Role.STUDENT)
def checkout():  # type: ignore[no-untyped-def]
    cart = _cart()
    if not cart["items"]:
        flash(_("Your cart is empty."))
        return redirect(url_for("orders.merchants_page"))
    address = Address(
        building=request.form.get("building", ""),
        room=request.form.get("room", ""),
        phone=request.form.get("phone", ""),
    )
    session[ADDRESS] = {"building": address.building, "room": address.room, "phone": address.phone}
    code = request.form.get("voucher_code", "").strip() or None
    cart["voucher_code"] = code  # shown again if the order is refused
    _save_cart(cart)
    who = actor()
    order_request = OrderRequest(
        user_id=who.user_id,
        merchant_id=int(cart["merchant_id"]),
        items=tuple(LineRequest(int(k), int(q)) for k, q in sorted(cart["items"].items())),
        address=address,
        idempotency_key=str(request.form.get("idempotency_key") or cart["key"]),
        expected_total_fen=_form_int("expected_total_fen"),
        note=request.form.get("note", ""),
        voucher_code=code,
    )
    try:
        placed = place_and_pay(order_request).placed
    except WriterBusy as exc:
        return _busy(exc.retry_after, str(exc), status=503)
    except errors.OrderError as exc:
        flash(_("We could not place the order: %(reason)s", reason=str(exc)))
        return redirect(url_for("orders.cart_page"))
    session.pop(CART, None)
    return redirect(url_for("orders.order_page", order_id=placed.order_id))


def _busy(retry_after: int, reason: str, status: int = 429) -> Response:
    html = render_template("orders/busy.html", retry_after=retry_after, reason=reason)
    return Response(html, status=status, headers={"Retry-After": str(retry_after)})


@bp.errorhandler(Overloaded)
def _overloaded_page(exc: Overloaded) -> Response:
    """A storm on the pages: the friendly busy page, 429 with Retry-After."""
    return _busy(exc.retry_after, str(exc))


# --------------------------------------------------------------------------- an order


@bp.get("/<int:order_id>")
@roles_required(*SIGNED_IN)
def order_page(order_id: int):  # type: ignore[no-untyped-def]
    view = queries.get_order(session=get_session(), actor=actor(), order_id=order_id)
    order = view.order
    live = order.status in states.OPEN_STATUSES or order.payment_status in (
        states.UNSETTLED_PAYMENTS
    )
    return render_template(
        "orders/order.html", view=view, live=live, show_address=actor().role != "merchant"
    )


@bp.get("/history")
@roles_required(Role.STUDENT)
def history_page():  # type: ignore[no-untyped-def]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    result = queries.list_orders(
        session=get_session(), actor=actor(), filters=queries.OrderFilter(page=page, per_page=20)
    )
    return render_template("orders/history.html", result=result)


@bp.get("/vouchers")
@roles_required(Role.STUDENT)
def vouchers_page():  # type: ignore[no-untyped-def]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    result = vouchers.list_vouchers(session=get_session(), actor=actor(), page=page, per_page=20)
    return render_template("orders/vouchers.html", result=result, status_labels=VOUCHER_LABELS)


# --------------------------------------------------------------------------- wiring


def init_app(app: Flask) -> None:
    """Register pages, the staff pages, the API, error mappings and the trace edges."""
    from orders.api import views as api_views
    from orders.staff import views as staff_views

    for error, status, code in (
        (errors.IdempotencyConflict, 422, "idempotency_conflict"),
        (errors.InvalidTransition, 409, "invalid_state"),
        (errors.SoldOut, 409, "sold_out"),
        (errors.ItemUnavailable, 409, "unavailable"),
        (errors.PriceMismatch, 409, "price_mismatch"),
        (errors.UnknownItem, 422, "unknown_item"),
        (errors.UnknownMerchant, 422, "unknown_merchant"),
        (errors.RefundError, 422, "refund_refused"),
        (errors.UnknownVoucher, 422, "unknown_voucher"),
        (errors.VoucherUnusable, 409, "voucher_unusable"),
        (errors.VoucherConflict, 409, "voucher_conflict"),
        (errors.VoucherError, 422, "voucher_refused"),
        (errors.OrderError, 422, "invalid_order"),
        (GatewayModeError, 422, "invalid_gateway_mode"),
        (errors.NotFound, 404, "not_found"),
        (errors.Forbidden, 403, "forbidden"),
        (Overloaded, 429, "too_many_orders"),
        (WriterBusy, 503, "busy"),
    ):
        register_error(error, status, code)
    app.add_template_filter(yuan, "yuan")
    app.add_template_filter(local_time, "order_time")  # complaints owns "local_time"
    app.register_blueprint(bp)
    app.register_blueprint(staff_views.bp)
    app.register_api(api_views.api)  # type: ignore[attr-defined]
    # Refuse the excess of an order storm before Flask runs (orders.edge); the in-app gate
    # (admit) still guards the checkout page and session-signed API calls.
    app.wsgi_app = AdmissionGate(app.wsgi_app, lambda: edge_admission(app))  # type: ignore[method-assign]
    tracing.register()
