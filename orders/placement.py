"""Placing orders and recording payment outcomes, many at a time in one transaction.

`write_batch` is the transaction boundary of the order hot path: it checks each request against
the menu, resolves Idempotency-Keys (an earlier order with the same key and body is returned as
it is; a different body is an IdempotencyConflict), serves the lines first-in, first-out from
the open batches (locked), records the allocations through `trace.service.record_allocations`,
appends one `orders.order_placed` entry per order and one `orders.line_added` per line, applies
payment outcomes, and commits once. `orders.committer` feeds it the requests of many threads,
so one commit (and one turn of the ledger's sequencer) serves many orders.

Lock order, to stay free of deadlocks across processes: menu batch rows (by id) first, then the
ledger head (taken by the first append), then inserts. A unique-key race with another process
(two first requests with the same key at once) rolls the batch back and runs it again: the
second run finds the committed order.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.elements import TextClause
from sqlmodel import Session

import ledger
from columns import utcnow
from ledger.canonical import rfc3339
from orders import checkout, states, vouchers
from orders.allocation import OpenBatch, Shortfall, Stock, Take
from orders.checkout import MenuEntry, OrderRequest, PricedLine
from orders.errors import IdempotencyConflict, ItemUnavailable, OrderError, SoldOut, UnknownMerchant
from orders.models import (
    LINE_ADDED,
    ORDER_PLACED,
    PAYMENT_CHARGED,
    PAYMENT_DEFERRED,
    PAYMENT_FAILED,
    PERSONAL_FIELDS,
    MenuBatch,
    MenuItem,
    Order,
    OrderLine,
)
from orders.payments import payment_reference, retry_delay
from orders.rules import OrdersConfig
from trace import service as trace_service
from trace.models import BatchAllocation, DishBatch, Merchant

ACTOR_ALLOCATION = "system:orders"
RETRIES = 3  # unique-key races and deadlocks: run the batch again


@dataclass(frozen=True, slots=True)
class Placed:
    """An order placed by this request (`created`) or by an earlier one with the same key."""

    order_id: int
    created: bool
    total_fen: int = 0  # what to charge (set when created)
    # what the answer to the request shows, known without reading back (set when created)
    lines: tuple[PricedLine, ...] = ()
    line_ids: tuple[int, ...] = ()
    created_at: datetime | None = None
    merchant_name: str = ""
    request: OrderRequest | None = None  # as normalised and stored
    discount_fen: int = 0  # what the voucher paid of the lines (set when created)
    voucher_id: int | None = None


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """What the gateway answered for an order's charge: paid, deferred (retry) or failed."""

    order_id: int
    outcome: str  # paid | deferred | failed
    gateway_id: str | None = None
    error: str | None = None
    actor: str = "system:payments"
    at: datetime | None = None  # when the gateway answered (default: the batch's time)


@dataclass
class BatchResult:
    """Per request: Placed or the OrderError it raised; per outcome: whether it was new."""

    placed: list[Placed | OrderError] = field(default_factory=list)
    recorded: list[bool] = field(default_factory=list)


def write_batch(
    *,
    session: Session,
    requests: Sequence[OrderRequest] = (),
    outcomes: Sequence[PaymentOutcome] = (),
    config: OrdersConfig,
    now: datetime | None = None,
    tz: str = "Asia/Shanghai",
) -> BatchResult:
    """Place `requests` and apply payment `outcomes` in one transaction; commit once."""
    for attempt in range(RETRIES):
        try:
            return _write(session, requests, outcomes, config, now or utcnow(), tz)
        except (IntegrityError, DBAPIError) as exc:
            session.rollback()
            retryable = isinstance(exc, IntegrityError) or _is_deadlock(exc)
            if not retryable or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def place_order(
    *, session: Session, request: OrderRequest, config: OrdersConfig, now: datetime | None = None
) -> Placed:
    """Place one order (its own transaction); raises the OrderError that refused it."""
    result = write_batch(session=session, requests=[request], config=config, now=now).placed[0]
    if isinstance(result, OrderError):
        raise result
    return result


def record_payment(
    *, session: Session, outcome: PaymentOutcome, config: OrdersConfig, now: datetime | None = None
) -> bool:
    """Apply one payment outcome; False when it changed nothing (already settled)."""
    return write_batch(session=session, outcomes=[outcome], config=config, now=now).recorded[0]


def _is_deadlock(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("40P01", "40001")


# --------------------------------------------------------------------------- the batch


@dataclass
class _Pending:
    """A request on its way through the batch."""

    position: int
    request: OrderRequest
    digest: str
    lines: list[PricedLine] = field(default_factory=list)
    takes: list[list[Take]] = field(default_factory=list)
    merchant_name: str = ""
    voucher: vouchers.BatchVoucher | None = None
    discount: int = 0
    balance_after: int = 0  # the voucher's balance once this order took its discount


def _write(
    session: Session,
    requests: Sequence[OrderRequest],
    outcomes: Sequence[PaymentOutcome],
    config: OrdersConfig,
    now: datetime,
    tz: str,
) -> BatchResult:
    result = BatchResult(placed=[None] * len(requests), recorded=[False] * len(outcomes))  # type: ignore[list-item]
    pending = _checked(requests, config, result)
    pending, followers = _resolve_keys(session, pending, result)
    pending = _priced(session, pending, result, now, tz)
    orders = _orders_of(session, [o.order_id for o in outcomes])
    releases = _releases(session, orders, outcomes)
    stock_rows = _lock_stock(session, pending, releases)
    stock = Stock(
        OpenBatch(r["id"], r["batch_id"], r["menu_item_id"], r["portions"] - r["allocated"])
        for r in stock_rows
        if r["closed_at"] is None and r["status"] == "active" and r["portions"] > r["allocated"]
    )
    cancelled: list[int] = []
    events, after_append = _payment_effects(orders, outcomes, result, config, now, cancelled)
    # Vouchers (locked after the menu batches): only when a request names one or a cancelled
    # order gives one back - the common batch runs no voucher query at all.
    restoring = [
        vouchers.ToRestore(i, orders[i]["voucher_id"], orders[i]["discount_fen"])
        for i in cancelled
        if vouchers.needs_restore(
            states.CANCELLED, orders[i]["voucher_id"], orders[i]["voucher_restored_at"]
        )
    ]
    codes = {p.request.voucher_code for p in pending if p.request.voucher_code}
    credit: vouchers.Redemptions | None = None
    restored: dict[int, ledger.Event] = {}
    if codes or restoring:
        found = vouchers.load(session, codes=codes, ids=[r.voucher_id for r in restoring])
        credit = vouchers.Redemptions(found, now)
        actor_of = {o.order_id: o.actor for o in outcomes}
        for r in restoring:  # first: an order of this batch may spend what comes back
            restored[r.order_id] = credit.give_back(
                r.voucher_id, order_id=r.order_id, amount=r.discount_fen, actor=actor_of[r.order_id]
            )
            events.append(restored[r.order_id])
    placing: list[_Pending] = []
    for p in pending:
        code = p.request.voucher_code
        if code and credit is not None:
            try:
                p.voucher = credit.usable(code, p.request.user_id)
            except OrderError as exc:
                result.placed[p.position] = exc
                continue
        try:
            p.takes = stock.take_all([(line.menu_item_id, line.quantity) for line in p.lines])
        except Shortfall as short:
            items = [it.menu_item_id for it in p.request.items]
            i = items.index(short.menu_item_id)
            name = p.lines[i].name
            left = f"{name}: only {short.available} left" if short.available else None
            result.placed[p.position] = SoldOut(
                left or f"{name} is sold out", field=f"items[{i}].quantity"
            )
            continue
        if p.voucher is not None and credit is not None:  # spent only once its stock is served
            lines_total = checkout.order_total(p.lines)
            if lines_total > 0:
                p.discount, p.balance_after = credit.take(p.voucher, lines_total)
            else:
                p.voucher = None  # nothing to pay: the voucher stays as it is
        placing.append(p)
    order_ids, line_ids = _next_ids(session, len(placing), sum(len(p.lines) for p in placing))
    allocations, order_rows, line_rows, deltas = [], [], [], {}
    lines_iter = iter(line_ids)
    for p, order_id in zip(placing, order_ids, strict=True):
        req = p.request
        order_rows.append(_order_row(order_id, p, now))
        events.append(_placed_event(order_rows[-1]))
        ids_of_lines = []
        for line, takes in zip(p.lines, p.takes, strict=True):
            line_id = next(lines_iter)
            ids_of_lines.append(line_id)
            row = {
                "id": line_id, "order_id": order_id, "menu_item_id": line.menu_item_id,
                "name": line.name, "unit_price_fen": line.unit_price_fen,
                "quantity": line.quantity, "food_class": line.food_class,
            }  # fmt: skip
            line_rows.append(row)
            events.append(
                ledger.Event(
                    LINE_ADDED,
                    {k: row[k] for k in row if k != "id"},
                    actor=f"user:{req.user_id}",
                    subject={"line": line_id, "order": order_id},
                )
            )
            for take in takes:
                allocations.append((line_id, take.batch_id, float(take.quantity), now))
                deltas[take.menu_batch_id] = deltas.get(take.menu_batch_id, 0) + take.quantity
        if p.voucher is not None and credit is not None:
            events.append(
                credit.redeemed(
                    p.voucher, order_id=order_id, discount=p.discount, balance_after=p.balance_after
                )
            )
        result.placed[p.position] = Placed(
            order_id, True, order_rows[-1]["total_fen"], tuple(p.lines), tuple(ids_of_lines),
            now, p.merchant_name, req, p.discount, order_rows[-1]["voucher_id"],
        )  # fmt: skip
    for menu_batch_id, quantity in releases.items():
        deltas[menu_batch_id] = deltas.get(menu_batch_id, 0) - quantity
    if allocations:  # the sequencer lock is taken here and held until commit: keep it short
        trace_service.record_allocations(
            session=session, allocations=allocations, actor=ACTOR_ALLOCATION, commit=False
        )
    entries = ledger.append_many(session, events) if events else []
    index_of = {id(e): entry.index for e, entry in zip(events, entries, strict=True)}
    for row, event in zip(order_rows, (e for e in events if e.type == ORDER_PLACED), strict=True):
        row["ledger_index"] = row["placed_index"] = index_of[id(event)]
    line_events = [e for e in events if e.type == LINE_ADDED]
    for row, event in zip(line_rows, line_events, strict=True):
        row["ledger_index"] = index_of[id(event)]
    if order_rows:
        session.execute(insert(Order.__table__), order_rows)  # type: ignore[attr-defined]
        session.execute(insert(OrderLine.__table__), line_rows)  # type: ignore[attr-defined]
    _apply_deltas(session, deltas)
    after_append(session, index_of)
    if credit is not None:
        credit.write(session, index_of)
        _mark_restored(session, restored, index_of, now)
    session.commit()
    _follow(followers, result)
    return result


def _mark_restored(
    session: Session, restored: dict[int, ledger.Event], index_of: dict[int, int], now: datetime
) -> None:
    """Cancelled orders whose discount went back: restored now, that entry their last."""
    if not restored:
        return
    table = Order.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == bindparam("o_id"))
        .values(voucher_restored_at=now, ledger_index=bindparam("o_index")),
        [{"o_id": k, "o_index": index_of[id(e)]} for k, e in sorted(restored.items())],
    )


def _checked(
    requests: Sequence[OrderRequest], config: OrdersConfig, result: BatchResult
) -> list[_Pending]:
    out = []
    for i, req in enumerate(requests):
        try:
            clean = checkout.normalised(
                req, max_quantity=config.max_quantity_per_line, max_lines=config.max_lines_per_order
            )
        except OrderError as exc:
            result.placed[i] = exc
            continue
        out.append(_Pending(i, clean, checkout.request_digest(clean)))
    return out


def _resolve_keys(
    session: Session, pending: list[_Pending], result: BatchResult
) -> tuple[list[_Pending], list[tuple[_Pending, _Pending]]]:
    """Requests whose key was used before get that order (same body) or a conflict. Within the
    batch only the first request of a key goes on; the others are returned as (follower, first)
    and share its fate once it is written (see _follow)."""
    if not pending:
        return [], []
    pairs = {(p.request.user_id, p.request.idempotency_key) for p in pending}
    found: dict[tuple[int, str], tuple[int, str]] = {}
    for part in _chunks(sorted(pairs), 200):
        params = {}
        for i, (user, key) in enumerate(part):
            params[f"u{i}"], params[f"k{i}"] = user, key
        rows = session.execute(_keys_lookup(len(part)), params)
        found.update({(u, k): (i, d) for u, k, i, d in rows})
    out: list[_Pending] = []
    followers: list[tuple[_Pending, _Pending]] = []
    first: dict[tuple[int, str], _Pending] = {}
    for p in pending:
        key = (p.request.user_id, p.request.idempotency_key)
        if key in found:
            order_id, digest = found[key]
            result.placed[p.position] = (
                Placed(order_id, created=False) if digest == p.digest else _conflict()
            )
        elif key in first:
            followers.append((p, first[key]))
        else:
            first[key] = p
            out.append(p)
    return out, followers


@functools.cache
def _keys_lookup(n: int) -> TextClause:
    """Orders of n (user, key) pairs: an OR of equalities, each a probe of uq_orders_user_key
    (SQLite plans the row-value form `(user_id, key) IN (...)` as a scan of every order).
    Prebuilt text per size: building and compiling 400 Core comparisons per batch cost more
    than the lookup itself."""
    terms = " OR ".join(f"(user_id = :u{i} AND idempotency_key = :k{i})" for i in range(n))
    return text(
        f"SELECT user_id, idempotency_key, id, request_digest FROM orders WHERE {terms}"  # noqa: S608 (bind parameters only)
    )


def _conflict() -> IdempotencyConflict:
    return IdempotencyConflict(
        "this Idempotency-Key was already used for a different order; use a new key for a new "
        "order, or resend the original body to get the original order",
        field="Idempotency-Key",
    )


def _follow(followers: list[tuple[_Pending, _Pending]], result: BatchResult) -> None:
    """Later requests of the batch with a key in use share the first one's fate."""
    for follower, first in followers:
        done = result.placed[first.position]
        if follower.digest != first.digest:
            result.placed[follower.position] = _conflict()
        elif isinstance(done, Placed):
            result.placed[follower.position] = Placed(done.order_id, created=False)
        else:
            result.placed[follower.position] = done


def _priced(
    session: Session, pending: list[_Pending], result: BatchResult, now: datetime, tz: str
) -> list[_Pending]:
    if not pending:
        return []
    item_ids = sorted({i.menu_item_id for p in pending for i in p.request.items})
    menu = {
        row[0]: MenuEntry(*row)
        for part in _chunks(item_ids, 1000)
        for row in session.execute(
            select(
                MenuItem.id, MenuItem.merchant_id, MenuItem.name, MenuItem.price_fen,
                MenuItem.available, MenuItem.food_class,
            ).where(MenuItem.id.in_(part))  # type: ignore[union-attr]
        )
    }  # fmt: skip
    merchant_ids = sorted({p.request.merchant_id for p in pending})
    licences: dict[int, tuple[date, str]] = {
        ident: (expires, name)
        for ident, expires, name in session.execute(
            select(Merchant.id, Merchant.licence_expires_on, Merchant.name).where(
                Merchant.id.in_(merchant_ids)  # type: ignore[union-attr]
            )
        )
    }
    today = now.astimezone(ZoneInfo(tz)).date()
    out = []
    for p in pending:
        try:
            expires, p.merchant_name = licences.get(p.request.merchant_id, (None, ""))
            if expires is None:
                raise UnknownMerchant(f"no merchant {p.request.merchant_id}", field="merchant_id")
            if expires < today:
                raise ItemUnavailable(
                    "this merchant's food business licence has expired; it cannot take orders",
                    field="merchant_id",
                )
            p.lines = checkout.priced_lines(p.request, menu)
        except OrderError as exc:
            result.placed[p.position] = exc
            continue
        out.append(p)
    return out


def _lock_stock(
    session: Session, pending: list[_Pending], releases: dict[int, int]
) -> list[dict[str, Any]]:
    """Menu batch rows of the items being ordered, and of the batches being released, locked
    (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the database)."""
    item_ids = sorted({line.menu_item_id for p in pending for line in p.lines})
    if not item_ids and not releases:
        return []
    stmt = (
        select(
            MenuBatch.id,
            MenuBatch.batch_id,
            MenuBatch.menu_item_id,
            MenuBatch.portions,
            MenuBatch.allocated,
            MenuBatch.closed_at,
            DishBatch.status,
        )
        .join(DishBatch, DishBatch.id == MenuBatch.batch_id)  # type: ignore[arg-type]
        .where(
            # only batches that can still serve (a semester leaves thousands closed or sold out)
            (
                MenuBatch.menu_item_id.in_(item_ids)  # type: ignore[attr-defined]
                & MenuBatch.closed_at.is_(None)  # type: ignore[union-attr]
                & (MenuBatch.allocated < MenuBatch.portions)  # type: ignore[operator]
            )
            | MenuBatch.id.in_(sorted(releases))  # type: ignore[union-attr]
        )
        .order_by(MenuBatch.opened_at, MenuBatch.id)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=MenuBatch)  # type: ignore[arg-type]
    return [dict(row._mapping) for row in session.execute(stmt)]


def _apply_deltas(session: Session, deltas: dict[int, int]) -> None:
    changes = [{"mb_id": k, "delta": v} for k, v in sorted(deltas.items()) if v]
    if changes:
        table = MenuBatch.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("mb_id"))
            .values(allocated=table.c.allocated + bindparam("delta")),
            changes,
        )


# The sequences are looked up once per statement (pg_get_serial_sequence in the select list
# would run once per row), then nextval draws one id per row: safe with concurrent writers.
_NEXT_IDS = text(
    "WITH s AS (SELECT pg_get_serial_sequence('orders', 'id')::regclass AS o, "
    "pg_get_serial_sequence('order_lines', 'id')::regclass AS l) "
    "SELECT 0, nextval(s.o) FROM s, generate_series(1, :orders) "
    "UNION ALL SELECT 1, nextval(s.l) FROM s, generate_series(1, :lines)"
)


def _next_ids(session: Session, orders: int, lines: int) -> tuple[list[int], list[int]]:
    """Ids for new orders and lines, drawn before inserting (entries name them).

    PostgreSQL: both sequences in one statement; SQLite: max(id)+1…, safe because BEGIN
    IMMEDIATE holds the database for the whole transaction.
    """
    if not orders:
        return [], []
    if session.get_bind().dialect.name == "postgresql":
        out: tuple[list[int], list[int]] = ([], [])
        for which, ident in session.execute(_NEXT_IDS, {"orders": orders, "lines": lines}):
            out[int(which)].append(int(ident))
        return sorted(out[0]), sorted(out[1])
    drawn = []
    for table, count in ((Order.__table__, orders), (OrderLine.__table__, lines)):  # type: ignore[attr-defined]
        top = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
        drawn.append(list(range(int(top) + 1, int(top) + 1 + count)))
    return drawn[0], drawn[1]


def _order_row(order_id: int, p: _Pending, now: datetime) -> dict[str, Any]:
    req = p.request
    return {
        "id": order_id, "user_id": req.user_id, "merchant_id": req.merchant_id,
        "idempotency_key": req.idempotency_key, "request_digest": p.digest,
        "status": states.PLACED, "payment_status": states.PENDING,
        "total_fen": checkout.order_total(p.lines) - p.discount,
        "building": req.address.building,
        "room": req.address.room, "phone": req.address.phone, "note": req.note,
        "created_at": now, "payment_reference": payment_reference(order_id),
        "payment_attempts": 0, "refunded_fen": 0,
        "voucher_id": p.voucher.id if p.voucher is not None else None, "discount_fen": p.discount,
    }  # fmt: skip


def _placed_event(row: dict[str, Any]) -> ledger.Event:
    payload = {
        "user_id": row["user_id"], "merchant_id": row["merchant_id"],
        "idempotency_key": row["idempotency_key"], "request_digest": row["request_digest"],
        "order_status": row["status"], "payment_status": row["payment_status"],
        "total_fen": row["total_fen"], "building": row["building"], "room": row["room"],
        "phone": row["phone"], "note": row["note"],
        "payment_reference": row["payment_reference"], "refunded_fen": 0,
        "voucher_id": row["voucher_id"], "discount_fen": row["discount_fen"],
    }  # fmt: skip
    return ledger.Event(
        ORDER_PLACED,
        payload,
        actor=f"user:{row['user_id']}",
        subject={"order": row["id"], "merchant": row["merchant_id"], "user": row["user_id"]},
        personal=PERSONAL_FIELDS | {"note"},
        ts=row["created_at"],
    )


# --------------------------------------------------------------------------- payment outcomes


def _orders_of(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = sorted(set(ids))
    if not ids:
        return {}
    stmt = select(
        Order.id, Order.status, Order.payment_status, Order.payment_attempts, Order.voucher_id,
        Order.discount_fen, Order.voucher_restored_at,
    ).where(Order.id.in_(ids))  # type: ignore[union-attr]  # fmt: skip
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return {row[0]: dict(row._mapping) for row in session.execute(stmt)}


def _releases(
    session: Session, orders: dict[int, dict[str, Any]], outcomes: Sequence[PaymentOutcome]
) -> dict[int, int]:
    """Portions to give back (menu batch id -> quantity) for orders a failed payment cancels."""
    cancelled = [
        o.order_id
        for o in outcomes
        if o.outcome == "failed"
        and o.order_id in orders
        and orders[o.order_id]["payment_status"] in states.UNSETTLED_PAYMENTS
        and states.after_failed_payment(orders[o.order_id]["status"]) == states.CANCELLED
    ]
    return portions_of(session, cancelled)


def portions_of(session: Session, order_ids: Sequence[int]) -> dict[int, int]:
    """Menu batch id -> portions the given orders took (from trace's allocation rows)."""
    if not order_ids:
        return {}
    stmt = (
        select(MenuBatch.id, func.sum(BatchAllocation.quantity))
        .select_from(OrderLine)
        .join(BatchAllocation, BatchAllocation.order_line_id == OrderLine.id)  # type: ignore[arg-type]
        .join(
            MenuBatch,
            (MenuBatch.batch_id == BatchAllocation.batch_id)  # type: ignore[arg-type]
            & (MenuBatch.menu_item_id == OrderLine.menu_item_id),
        )
        .where(OrderLine.order_id.in_(sorted(set(order_ids))))  # type: ignore[attr-defined]
        .group_by(MenuBatch.id)
    )
    return {int(mb): round(q) for mb, q in session.execute(stmt)}


def _payment_effects(
    orders: dict[int, dict[str, Any]],
    outcomes: Sequence[PaymentOutcome],
    result: BatchResult,
    config: OrdersConfig,
    now: datetime,
    cancelled: list[int],
) -> tuple[list[ledger.Event], Any]:
    """Entries for outcomes that change an order, and a function applying the row updates once
    the entries have indexes; the ids of the orders a failed payment cancels go to `cancelled`."""
    events: list[ledger.Event] = []
    updates: list[tuple[dict[str, Any], ledger.Event | None]] = []
    done: set[int] = set()
    for i, o in enumerate(outcomes):
        when = o.at or now
        row = orders.get(o.order_id)
        if row is None or o.order_id in done:
            continue
        late_charge = o.outcome == "paid" and row["payment_status"] in states.PAID_MAY_FOLLOW
        if row["payment_status"] not in states.UNSETTLED_PAYMENTS and not late_charge:
            continue
        values: dict[str, Any]
        if o.outcome == "paid":
            values = {
                "payment_status": states.PAID, "gateway_charge_id": o.gateway_id, "paid_at": when,
                "payment_error": None, "next_payment_at": None,
            }  # fmt: skip
            kind = PAYMENT_CHARGED
        elif o.outcome == "failed":
            values = {
                "payment_status": states.FAILED, "payment_error": (o.error or "")[:300],
                "next_payment_at": None, "status": states.after_failed_payment(row["status"]),
            }  # fmt: skip
            kind = PAYMENT_FAILED
            if values["status"] == states.CANCELLED != row["status"]:
                cancelled.append(o.order_id)
        else:
            attempts = row["payment_attempts"] + 1
            delay = retry_delay(
                attempts,
                base=config.payment_retry_base_seconds,
                cap=config.payment_retry_max_seconds,
                jitter=random.uniform(0.5, 1.0),  # noqa: S311  (spreads retries)
            )
            values = {
                "payment_status": states.DEFERRED, "payment_attempts": attempts,
                "next_payment_at": when + timedelta(seconds=delay),
                "payment_error": (o.error or "")[:300],
            }  # fmt: skip
            kind = PAYMENT_DEFERRED
            if row["payment_status"] == states.DEFERRED:
                updates.append(({"id": o.order_id, **values}, None))  # schedule only: no fact
                done.add(o.order_id)
                continue
        payload = {k: v for k, v in values.items() if k not in ("next_payment_at", "status")}
        payload.pop("payment_attempts", None)
        if "paid_at" in payload:  # as the entry records it: a plain payload, encoded in bulk
            payload["paid_at"] = rfc3339(payload["paid_at"])
        if "status" in values:
            payload["order_status"] = values["status"]
        event = ledger.Event(kind, payload, actor=o.actor, subject={"order": o.order_id}, ts=when)
        events.append(event)
        updates.append(({"id": o.order_id, **values}, event))
        result.recorded[i] = True
        done.add(o.order_id)

    def apply(session: Session, index_of: dict[int, int]) -> None:
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for values, event in updates:
            row = dict(values)
            if event is not None:
                row["ledger_index"] = index_of[id(event)]
            row = {f"v_{name}": value for name, value in row.items()}  # not the column names
            groups.setdefault(tuple(sorted(row)), []).append(row)
        table = Order.__table__  # type: ignore[attr-defined]
        for names, rows in groups.items():
            columns = {n[2:]: bindparam(n) for n in names if n != "v_id"}
            stmt = update(table).where(table.c.id == bindparam("v_id")).values(columns)
            session.execute(stmt, rows)

    return events, apply


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
