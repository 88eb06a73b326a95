"""Compensation vouchers: credit on a customer, issued once per key, spent at checkout, given
back when the order that spent it is not eaten.

- **Issue** (`issue_voucher`): the complaint desk credits `amount_fen` to the customer of a
  paid order (a charge still deferred counts: the food was served and the student owes it),
  once per idempotency key (its payout key). The voucher has a code to type (`V` + 10 Crockford
  base32 characters from `secrets`: 50 bits, unguessable) and expires `voucher_valid_days`
  after issue. Only its owner can spend it, so the code is no bearer secret.
- **Redeem**: `orders.placement` loads the vouchers a batch of orders names in one query
  (`load`), and `Redemptions` tracks their balances through the batch: an order's discount is
  min(balance left, its lines total), taken only once its stock is served. The order records
  `voucher_id` and `discount_fen`; its `total_fen` is what is charged (lines - discount), so an
  order paid in full by a voucher charges 0 and is paid without the gateway.
- **Give back**: when such an order ends rejected or cancelled (its payment failed), the
  discount goes back on the voucher once (`orders.voucher_restored`, and the order's
  `voucher_restored_at`): at once where the kitchen rejects it or the batch writer cancels it,
  and by the sweep `restore_vouchers` (called by every reconciliation pass) for anything left.
  The expiry stays as it was.

Each change is one ledger entry written in the same transaction as the rows (`voucher_issued`,
`voucher_redeemed`, `voucher_restored`); the entry's `balance_fen` is the balance after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

import ledger
from columns import utcnow
from orders import states
from orders.access import Actor
from orders.checkout import KEY_PATTERN
from orders.errors import (
    Forbidden,
    InvalidOrder,
    NotFound,
    UnknownVoucher,
    VoucherConflict,
    VoucherError,
    VoucherUnusable,
)
from orders.models import (
    VOUCHER_ISSUED,
    VOUCHER_REDEEMED,
    VOUCHER_RESTORED,
    VOUCHER_TO_RESTORE,
    Order,
    Voucher,
)
from orders.rules import OrdersConfig

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 10
MAX_AMOUNT_FEN = 10**9
# a voucher compensates an order the customer paid for (or owes: a deferred charge)
ISSUABLE_PAYMENTS = frozenset({states.PAID, states.DEFERRED})
RESTORE_ACTOR = "system:vouchers"
MAX_PER_PAGE = 100


def new_code() -> str:
    """A fresh voucher code: V and 10 Crockford base32 characters from `secrets`."""
    return "V" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


# --------------------------------------------------------------------------- issue


@dataclass(frozen=True, slots=True)
class VoucherResult:
    """An issued voucher as its issuer sees it; `created` is False for a repeated key."""

    voucher_id: int
    code: str
    user_id: int
    source_order_id: int
    amount_fen: int
    balance_fen: int
    expires_at: datetime
    created: bool


def issue_voucher(
    *,
    session: Session,
    order_id: int,
    amount_fen: int,
    idempotency_key: str,
    actor: str,
    reason: str,
    config: OrdersConfig,
    now: datetime | None = None,
) -> VoucherResult:
    """Credit a voucher of `amount_fen` (1 to 10**9 fen) to the customer of order `order_id`,
    once per idempotency key. Commits.

    The order must be paid (or its charge deferred). The same key with the same amount and
    order returns the voucher issued first (no new row, no new entry); with another amount or
    order it is a VoucherConflict. Raises VoucherError (bad amount or key, order not paid) and
    NotFound (no such order).
    """
    if not KEY_PATTERN.fullmatch(idempotency_key or ""):
        raise VoucherError(
            "the idempotency key must be 1-200 visible ASCII characters", field="idempotency_key"
        )
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool):
        raise VoucherError("the amount must be a whole number of fen", field="amount_fen")
    if not 1 <= amount_fen <= MAX_AMOUNT_FEN:
        raise VoucherError(
            f"the amount must be between 1 and {MAX_AMOUNT_FEN} fen", field="amount_fen"
        )
    row, created = _by_key(session, idempotency_key), False
    for _ in range(3):  # a code collision (2^-50) or a concurrent call with the same key
        if row is not None:
            break
        try:
            row = _issue(session, order_id, amount_fen, idempotency_key, actor, reason, config, now)
            created = True
        except IntegrityError:
            session.rollback()
            row = _by_key(session, idempotency_key)
    if row is None:
        raise VoucherError("the voucher could not be issued; try again", field="idempotency_key")
    if row.amount_fen != amount_fen or row.source_order_id != order_id:
        session.rollback()
        raise VoucherConflict(
            f"this key was used for a voucher of {row.amount_fen} fen on order "
            f"{row.source_order_id}",
            field="idempotency_key",
        )
    assert row.id is not None
    result = VoucherResult(
        row.id, row.code, row.user_id, row.source_order_id, row.amount_fen, row.balance_fen,
        row.expires_at, created,
    )  # fmt: skip
    session.commit()  # end the read (SQLite's BEGIN IMMEDIATE would hold the database)
    return result


def _by_key(session: Session, key: str) -> Voucher | None:
    stmt = select(Voucher).where(col(Voucher.idempotency_key) == key)
    return session.execute(stmt.execution_options(populate_existing=True)).scalars().first()


def _issue(
    session: Session,
    order_id: int,
    amount: int,
    key: str,
    actor: str,
    reason: str,
    config: OrdersConfig,
    now: datetime | None,
) -> Voucher:
    order = session.get(Order, order_id, populate_existing=True)
    if order is None:
        raise NotFound(f"no order {order_id}")
    if order.payment_status not in ISSUABLE_PAYMENTS:
        session.rollback()
        raise VoucherError(
            f"a voucher compensates a paid order; this order's payment is {order.payment_status}",
            field="order_id",
        )
    now = now or utcnow()
    row = Voucher(
        code=new_code(),
        user_id=order.user_id,
        amount_fen=amount,
        balance_fen=amount,
        idempotency_key=key,
        source_order_id=order_id,
        reason=(reason or "").strip()[:300],
        issued_by=actor[:80],
        issued_at=now,
        expires_at=now + timedelta(days=config.voucher_valid_days),
    )
    session.add(row)
    session.flush()  # a taken key or code fails here, before the entry
    payload = {
        "code": row.code, "user_id": row.user_id, "amount_fen": amount, "balance_fen": amount,
        "idempotency_key": key, "source_order_id": order_id, "reason": row.reason,
        "issued_by": row.issued_by, "issued_at": now, "expires_at": row.expires_at,
    }  # fmt: skip
    event = ledger.Event(
        VOUCHER_ISSUED,
        payload,
        actor=actor,
        subject={"voucher": row.id, "order": order_id, "user": row.user_id},
        ts=now,
    )
    row.ledger_index = ledger.append(session, event).index
    session.commit()
    return row


# --------------------------------------------------------------------------- redeem (batch)


@dataclass(frozen=True, slots=True)
class BatchVoucher:
    """What the batch writer needs of a voucher it spends or refills."""

    id: int
    code: str
    user_id: int
    balance_fen: int
    expires_at: datetime


def load(
    session: Session, *, codes: Iterable[str] = (), ids: Iterable[int] = ()
) -> list[BatchVoucher]:
    """The vouchers with these codes or ids, in one query, locked on PostgreSQL (by id, so two
    writers never wait on each other in a circle; SQLite's BEGIN IMMEDIATE holds the file)."""
    codes, ids = sorted(set(codes)), sorted(set(ids))
    if not codes and not ids:
        return []
    stmt = (
        select(
            col(Voucher.id),
            col(Voucher.code),
            col(Voucher.user_id),
            col(Voucher.balance_fen),
            col(Voucher.expires_at),
        )
        .where(or_(col(Voucher.code).in_(codes), col(Voucher.id).in_(ids)))
        .order_by(col(Voucher.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return [BatchVoucher(int(i), c, int(u), int(b), e) for i, c, u, b, e in session.execute(stmt)]


class Redemptions:
    """The balances of a batch's vouchers as its orders spend them and its cancellations give
    them back (pure); builds the entries and the final row values."""

    def __init__(self, vouchers: Iterable[BatchVoucher], now: datetime) -> None:
        self.now = now
        self.by_id = {v.id: v for v in vouchers}
        self.by_code = {v.code: v for v in self.by_id.values()}
        self.left = {v.id: v.balance_fen for v in self.by_id.values()}
        self.last_event: dict[int, ledger.Event] = {}  # voucher id -> its latest entry

    def usable(self, code: str, user_id: int) -> BatchVoucher:
        """The customer's voucher with this code if it can pay now; UnknownVoucher (no such
        code among theirs) or VoucherUnusable (expired, nothing left) naming `voucher_code`."""
        found = self.by_code.get(code)
        if found is None or found.user_id != user_id:
            raise UnknownVoucher("you have no voucher with this code", field="voucher_code")
        if found.expires_at <= self.now:
            raise VoucherUnusable(
                f"this voucher expired on {found.expires_at:%Y-%m-%d}", field="voucher_code"
            )
        if self.left[found.id] <= 0:
            raise VoucherUnusable("this voucher has been spent", field="voucher_code")
        return found

    def take(self, voucher: BatchVoucher, lines_total: int) -> tuple[int, int]:
        """Take min(balance left, lines total) for an order whose stock is served; returns the
        discount and the balance left after it."""
        discount = min(self.left[voucher.id], lines_total)
        self.left[voucher.id] -= discount
        return discount, self.left[voucher.id]

    def redeemed(
        self, voucher: BatchVoucher, *, order_id: int, discount: int, balance_after: int
    ) -> ledger.Event:
        """The entry of a `take` once the order has its id."""
        payload = {"order_id": order_id, "discount_fen": discount, "balance_fen": balance_after}
        event = ledger.Event(
            VOUCHER_REDEEMED,
            payload,
            actor=f"user:{voucher.user_id}",
            subject={"voucher": voucher.id, "order": order_id, "user": voucher.user_id},
            ts=self.now,
        )
        self.last_event[voucher.id] = event
        return event

    def give_back(self, voucher_id: int, *, order_id: int, amount: int, actor: str) -> ledger.Event:
        """Put an order's discount back on its voucher; returns the entry (which also sets the
        order's `voucher_restored_at`)."""
        self.left[voucher_id] += amount
        payload = {
            "order_id": order_id, "restored_fen": amount, "balance_fen": self.left[voucher_id],
            "voucher_restored_at": self.now,
        }  # fmt: skip
        event = ledger.Event(
            VOUCHER_RESTORED,
            payload,
            actor=actor,
            subject={
                "voucher": voucher_id,
                "order": order_id,
                "user": self.by_id[voucher_id].user_id,
            },
            ts=self.now,
        )
        self.last_event[voucher_id] = event
        return event

    def write(self, session: Session, index_of: dict[int, int]) -> None:
        """Store the balances the batch left and each voucher's latest entry (one statement)."""
        if not self.last_event:
            return
        table = Voucher.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("v_id"))
            .values(balance_fen=bindparam("v_balance"), ledger_index=bindparam("v_index")),
            [
                {"v_id": vid, "v_balance": self.left[vid], "v_index": index_of[id(event)]}
                for vid, event in sorted(self.last_event.items())
            ],
        )


# --------------------------------------------------------------------------- give back


@dataclass(frozen=True, slots=True)
class ToRestore:
    """An order whose discount goes back on its voucher."""

    order_id: int
    voucher_id: int
    discount_fen: int


def needs_restore(status: str, voucher_id: int | None, restored_at: datetime | None) -> bool:
    """Whether an order in this state owes its voucher its discount back (VOUCHER_TO_RESTORE)."""
    return (
        voucher_id is not None
        and restored_at is None
        and status in (states.REJECTED, states.CANCELLED)
    )


def give_back(
    session: Session, orders: Sequence[ToRestore], *, actor: str, now: datetime
) -> dict[int, int]:
    """Put the orders' discounts back on their vouchers in the caller's transaction (the orders
    already locked and checked with `needs_restore`): one `orders.voucher_restored` entry each,
    the voucher rows updated. Returns order id -> that entry's index; the caller sets the
    order's `voucher_restored_at` (= now) and `ledger_index` to it. Does not commit."""
    if not orders:
        return {}
    redemptions = Redemptions(load(session, ids=[o.voucher_id for o in orders]), now)
    events = [
        redemptions.give_back(o.voucher_id, order_id=o.order_id, amount=o.discount_fen, actor=actor)
        for o in orders
    ]
    entries = ledger.append_many(session, events)
    index_of = {id(e): entry.index for e, entry in zip(events, entries, strict=True)}
    redemptions.write(session, index_of)
    return {o.order_id: index_of[id(e)] for o, e in zip(orders, events, strict=True)}


def restore_vouchers(session: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """The sweep: give back the discounts of rejected or cancelled orders not given back yet
    (at most `limit`; a partial index keeps the look-up to those few). Idempotent; commits.
    Returns how many orders it restored."""
    now = now or utcnow()
    stmt = (
        select(col(Order.id), col(Order.voucher_id), col(Order.discount_fen))
        .where(text(VOUCHER_TO_RESTORE))
        .order_by(col(Order.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)  # a reject restoring it now has it
    todo = [ToRestore(int(o), int(v), int(d)) for o, v, d in session.execute(stmt)]
    indexes = give_back(session, todo, actor=RESTORE_ACTOR, now=now)
    if indexes:
        table = Order.__table__  # type: ignore[attr-defined]
        session.execute(
            update(table)
            .where(table.c.id == bindparam("o_id"))
            .values(voucher_restored_at=now, ledger_index=bindparam("o_index")),
            [{"o_id": k, "o_index": v} for k, v in sorted(indexes.items())],
        )
    session.commit()
    return len(indexes)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class VoucherView:
    """A voucher as its owner (or the desk) sees it; `status` usable | spent | expired."""

    voucher: Voucher
    status: str


@dataclass(frozen=True, slots=True)
class VoucherPage:
    """One page of vouchers and how many match."""

    items: list[VoucherView]
    total: int
    page: int
    per_page: int


def status_of(voucher: Voucher, now: datetime) -> str:
    """usable, spent (no balance left) or expired."""
    if voucher.balance_fen <= 0:
        return "spent"
    if voucher.expires_at <= now:
        return "expired"
    return "usable"


def list_vouchers(
    *,
    session: Session,
    actor: Actor,
    user_id: int | None = None,
    usable_only: bool = False,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
) -> VoucherPage:
    """Vouchers the caller may see, newest first: a student's own; the desk's and
    administrators' every voucher (or one customer's: `user_id`). Other roles: Forbidden."""
    now = now or utcnow()
    if not 1 <= per_page <= MAX_PER_PAGE or page < 1:
        raise InvalidOrder(f"per_page is 1-{MAX_PER_PAGE} and page from 1", field="per_page")
    conditions = []
    if actor.role == "student":
        conditions.append(col(Voucher.user_id) == actor.user_id)
    elif actor.is_staff:
        if user_id is not None:
            conditions.append(col(Voucher.user_id) == user_id)
    else:
        raise Forbidden(f"the {actor.role} role has no vouchers")
    if usable_only:
        conditions += [col(Voucher.balance_fen) > 0, col(Voucher.expires_at) > now]
    total = session.execute(
        select(func.count()).select_from(Voucher).where(*conditions)
    ).scalar_one()
    rows = (
        session.execute(
            select(Voucher)
            .where(*conditions)
            .order_by(col(Voucher.issued_at).desc(), col(Voucher.id).desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        .scalars()
        .all()
    )
    return VoucherPage(
        [VoucherView(v, status_of(v, now)) for v in rows], int(total), page, per_page
    )
