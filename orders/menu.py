"""Menus: merchants' dishes, their photos, and the dish batches each dish is served from.

A menu item is a trace product sold at a price. When the merchant records production (through
`trace.service.produce_batch`, so the batch's inputs are traceable) the new batch is *opened*
for the item: its portions then serve orders first-in, first-out (orders.placement). Every
change is a ledger entry written in the same transaction as the row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from orders.access import Actor
from orders.errors import Forbidden, MenuError, NotFound
from orders.models import (
    MENU_BATCH_CLOSED,
    MENU_BATCH_OPENED,
    MENU_ITEM_COLUMNS,
    MENU_ITEM_SAVED,
    MenuBatch,
    MenuItem,
    MenuItemPhoto,
)
from sensors.profiles import FOOD_CLASSES
from trace import service as trace_service
from trace.access import Viewer
from trace.commands import BatchProduction
from trace.models import DishBatch, Merchant, Product

MAX_PRICE_FEN = 100_000_00  # ¥100,000: a typing error, not a dish
MAX_PHOTO_BYTES = 2 * 1024 * 1024
PHOTO_TYPES = {  # magic bytes -> mimetype
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"RIFF": "image/webp",
}
SERVING_UNITS = frozenset({"portion", "each"})  # batch units whose quantity counts servings


@dataclass(frozen=True, slots=True)
class MenuItemData:
    """What a merchant enters for a dish."""

    name: str
    price_fen: int
    product_id: int
    food_class: str
    allergens: tuple[str, ...] = ()
    description: str = ""
    available: bool = True


@dataclass(frozen=True, slots=True)
class MenuLine:
    """A menu item as a menu shows it: with the portions its open batches still hold."""

    item: MenuItem
    remaining: int

    @property
    def sold_out(self) -> bool:
        return self.remaining <= 0


@dataclass(frozen=True, slots=True)
class MerchantCard:
    """A merchant students can order from."""

    merchant: Merchant
    items: int
    open: bool  # licence valid and at least one dish available with portions left


def _clean(data: MenuItemData) -> MenuItemData:
    name = (data.name or "").strip()
    if not 1 <= len(name) <= 120:
        raise MenuError("a dish needs a name of at most 120 characters", field="name")
    if not isinstance(data.price_fen, int) or not 0 < data.price_fen <= MAX_PRICE_FEN:
        raise MenuError("the price must be between 1 fen and ¥100,000", field="price_fen")
    if data.food_class not in FOOD_CLASSES:
        raise MenuError(f"food class must be one of {', '.join(FOOD_CLASSES)}", field="food_class")
    allergens = sorted({a.strip() for a in data.allergens if a and a.strip()})
    if len(allergens) > 20 or any(len(a) > 40 for a in allergens):
        raise MenuError("at most 20 allergens of at most 40 characters", field="allergens")
    description = (data.description or "").strip()
    if len(description) > 500:
        raise MenuError("the description is longer than 500 characters", field="description")
    return MenuItemData(
        name=name,
        price_fen=data.price_fen,
        product_id=data.product_id,
        food_class=data.food_class,
        allergens=tuple(allergens),
        description=description,
        available=bool(data.available),
    )


def _item_event(item: MenuItem, actor: Actor, at: datetime | None = None) -> ledger.Event:
    payload = {name: getattr(item, name) for name in MENU_ITEM_COLUMNS}
    subject = {"menu_item": item.id, "merchant": item.merchant_id}
    return ledger.Event(MENU_ITEM_SAVED, payload, actor=actor.ledger_actor, subject=subject, ts=at)


def save_menu_item(
    *,
    session: Session,
    actor: Actor,
    data: MenuItemData,
    item_id: int | None = None,
    merchant_id: int | None = None,
    now: datetime | None = None,
) -> MenuItem:
    """Create a dish (item_id None) or change one; a merchant user only its own merchant's."""
    clean = _clean(data)
    if item_id is None:
        owner = actor.merchant_scope(merchant_id)
        if session.get(Merchant, owner) is None:
            raise NotFound(f"no merchant {owner}")
        item = MenuItem(merchant_id=owner, created_at=now or utcnow(), **_fields(clean))
    else:
        item = get_item(session=session, item_id=item_id)
        actor.merchant_scope(item.merchant_id)
        for name, value in _fields(clean).items():
            setattr(item, name, value)
    if session.get(Product, clean.product_id) is None:
        raise MenuError(f"no product {clean.product_id}", field="product_id")
    session.add(item)
    session.flush()
    item.ledger_index = ledger.append(session, _item_event(item, actor, now)).index
    session.commit()
    return item


def _fields(data: MenuItemData) -> dict[str, object]:
    return {
        "name": data.name,
        "price_fen": data.price_fen,
        "product_id": data.product_id,
        "food_class": data.food_class,
        "allergens": list(data.allergens),
        "description": data.description,
        "available": data.available,
    }


def set_available(*, session: Session, actor: Actor, item_id: int, available: bool) -> MenuItem:
    """Switch a dish on or off the menu."""
    item = get_item(session=session, item_id=item_id)
    actor.merchant_scope(item.merchant_id)
    if item.available == available:
        return item
    item.available = available
    item.ledger_index = ledger.append(session, _item_event(item, actor)).index
    session.add(item)
    session.commit()
    return item


def set_photo(*, session: Session, actor: Actor, item_id: int, content: bytes) -> MenuItem:
    """Attach (or replace) a dish's photo: PNG, JPEG or WebP up to 2 MiB; its digest is ledgered."""
    item = get_item(session=session, item_id=item_id)
    actor.merchant_scope(item.merchant_id)
    if not content or len(content) > MAX_PHOTO_BYTES:
        raise MenuError("a photo must be 1 byte to 2 MiB", field="photo")
    mimetype = next((t for magic, t in PHOTO_TYPES.items() if content.startswith(magic)), None)
    if mimetype is None or (mimetype == "image/webp" and content[8:12] != b"WEBP"):
        raise MenuError("a photo must be a PNG, JPEG or WebP image", field="photo")
    photo = session.get(MenuItemPhoto, item_id) or MenuItemPhoto(menu_item_id=item_id, mimetype="")
    photo.mimetype, photo.content = mimetype, content
    item.photo_digest = hashlib.sha256(content).hexdigest()
    session.add(photo)
    item.ledger_index = ledger.append(session, _item_event(item, actor)).index
    session.add(item)
    session.commit()
    return item


def photo_of(*, session: Session, item_id: int) -> MenuItemPhoto:
    """A dish's photo, or NotFound."""
    photo = session.get(MenuItemPhoto, item_id)
    if photo is None:
        raise NotFound(f"menu item {item_id} has no photo")
    return photo


def get_item(*, session: Session, item_id: int) -> MenuItem:
    """A menu item, or NotFound."""
    item = session.get(MenuItem, item_id)
    if item is None:
        raise NotFound(f"no menu item {item_id}")
    return item


# --------------------------------------------------------------------------- batches


def open_batch(
    *,
    session: Session,
    actor: Actor,
    menu_item_id: int,
    batch_id: int,
    portions: int | None = None,
    now: datetime | None = None,
) -> MenuBatch:
    """Serve a dish from a batch from now on (after the batches opened before it).

    The batch must be the merchant's own, of the dish's product, active, counted in servings
    (unit portion/each); `portions` defaults to the batch's quantity not yet opened elsewhere.
    """
    [row] = open_batches(
        session=session, actor=actor, openings=[(menu_item_id, batch_id, portions)], now=now
    )
    return row


def open_batches(
    *,
    session: Session,
    actor: Actor,
    openings: Sequence[tuple[int, int, int | None]],
    now: datetime | None = None,
) -> list[MenuBatch]:
    """`open_batch` for several (menu item id, batch id, portions or None) at once: every one
    checked as open_batch does, all or nothing, one commit (the semester generator opens a
    day's batches this way)."""
    at = now or utcnow()
    items = {i: get_item(session=session, item_id=i) for i in sorted({o[0] for o in openings})}
    batch_ids = sorted({o[1] for o in openings})
    batches = {
        b.id: b for b in session.exec(select(DishBatch).where(col(DishBatch.id).in_(batch_ids)))
    }
    taken: dict[int, int] = dict(
        session.exec(  # type: ignore[arg-type]
            select(MenuBatch.batch_id, func.sum(MenuBatch.portions))
            .where(col(MenuBatch.batch_id).in_(batch_ids))
            .group_by(MenuBatch.batch_id)
        ).all()
    )
    already = set(
        session.exec(  # type: ignore[call-overload]
            select(MenuBatch.menu_item_id, MenuBatch.batch_id).where(
                col(MenuBatch.batch_id).in_(batch_ids)
            )
        ).all()
    )
    rows = []
    for menu_item_id, batch_id, portions in openings:
        item = items[menu_item_id]
        actor.merchant_scope(item.merchant_id)
        batch = batches.get(batch_id)
        if batch is None or batch.merchant_id != item.merchant_id:
            raise MenuError(f"no batch {batch_id} of this merchant", field="batch_id")
        if batch.product_id != item.product_id:
            raise MenuError("the batch is of another product than the dish", field="batch_id")
        if batch.status != "active":
            raise MenuError(f"batch {batch.batch_code} is {batch.status}", field="batch_id")
        if batch.unit not in SERVING_UNITS:
            raise MenuError(
                f"the batch is counted in {batch.unit}; open batches counted in portions",
                field="batch_id",
            )
        free = int(batch.quantity) - int(taken.get(batch_id) or 0)
        if portions is None:
            portions = free
        if not 0 < portions <= free:
            raise MenuError(f"the batch has {free} portions not yet on a menu", field="portions")
        if (menu_item_id, batch_id) in already:
            raise MenuError("this batch is already open for this dish", field="batch_id")
        already.add((menu_item_id, batch_id))
        taken[batch_id] = int(taken.get(batch_id) or 0) + portions
        rows.append(
            MenuBatch(menu_item_id=menu_item_id, batch_id=batch_id, portions=portions, opened_at=at)
        )
    session.add_all(rows)
    session.flush()
    events = [
        ledger.Event(
            MENU_BATCH_OPENED,
            {
                "menu_item_id": row.menu_item_id,
                "batch_id": row.batch_id,
                "portions": row.portions,
                "opened_at": at,
                "closed_at": None,
            },
            actor=actor.ledger_actor,
            subject={"menu_batch": row.id, "menu_item": row.menu_item_id, "batch": row.batch_id},
        )
        for row in rows
    ]
    for row, entry in zip(rows, ledger.append_many(session, events), strict=True):
        row.ledger_index = entry.index
    session.commit()
    return rows


def close_batch(
    *, session: Session, actor: Actor, menu_batch_id: int, now: datetime | None = None
) -> MenuBatch:
    """Stop serving from a batch (sold out, discarded, end of service)."""
    row = session.get(MenuBatch, menu_batch_id)
    if row is None:
        raise NotFound(f"no menu batch {menu_batch_id}")
    actor.merchant_scope(get_item(session=session, item_id=row.menu_item_id).merchant_id)
    if row.closed_at is not None:
        return row
    row.closed_at = now or utcnow()
    event = ledger.Event(
        MENU_BATCH_CLOSED,
        {"closed_at": row.closed_at},
        actor=actor.ledger_actor,
        subject={"menu_batch": row.id, "menu_item": row.menu_item_id, "batch": row.batch_id},
    )
    row.ledger_index = ledger.append(session, event).index
    session.add(row)
    session.commit()
    return row


def produce_and_open(
    *,
    session: Session,
    actor: Actor,
    menu_item_id: int,
    production: BatchProduction,
    portions: int | None = None,
    tz: str = "Asia/Shanghai",
    now: datetime | None = None,
) -> MenuBatch:
    """Record production through the trace module (inputs, batch code) and open the new batch
    for the dish. Two transactions: if opening fails, the batch stays recorded, unopened."""
    item = get_item(session=session, item_id=menu_item_id)
    merchant = actor.merchant_scope(item.merchant_id)
    if production.product_id != item.product_id:
        raise MenuError("production must be of the dish's product", field="product_id")
    viewer = Viewer(actor=actor.ledger_actor, role=actor.role, merchant_id=actor.merchant_id)
    batch = trace_service.produce_batch(
        session=session,
        viewer=viewer,
        production=production,
        merchant_id=merchant if actor.role == "admin" else None,
        now=now,
        tz=tz,
    )
    assert batch.id is not None
    return open_batch(
        session=session,
        actor=actor,
        menu_item_id=menu_item_id,
        batch_id=batch.id,
        portions=portions,
        now=now,
    )


def batches_of(
    *, session: Session, item_ids: Sequence[int], open_only: bool = True
) -> list[tuple[MenuBatch, DishBatch]]:
    """The batches opened for these dishes with their trace batch, oldest first."""
    if not item_ids:
        return []
    stmt = (
        select(MenuBatch, DishBatch)
        .join(DishBatch, col(DishBatch.id) == MenuBatch.batch_id)
        .where(col(MenuBatch.menu_item_id).in_(item_ids))
        .order_by(col(MenuBatch.opened_at), col(MenuBatch.id))
    )
    if open_only:
        stmt = stmt.where(col(MenuBatch.closed_at).is_(None))
    return list(session.exec(stmt).all())


# --------------------------------------------------------------------------- reading menus


def menu_of(
    *, session: Session, merchant_id: int, include_unavailable: bool = False
) -> list[MenuLine]:
    """A merchant's dishes with the portions left in their open, active batches."""
    stmt = select(MenuItem).where(MenuItem.merchant_id == merchant_id).order_by(col(MenuItem.id))
    if not include_unavailable:
        stmt = stmt.where(col(MenuItem.available).is_(True))
    items = list(session.exec(stmt).all())
    left = remaining(session=session, item_ids=[i.id for i in items if i.id is not None])
    return [MenuLine(item, left.get(item.id or 0, 0)) for item in items]


def remaining(*, session: Session, item_ids: Sequence[int]) -> dict[int, int]:
    """Menu item id -> portions left in its open batches whose trace batch is active."""
    if not item_ids:
        return {}
    stmt = (
        select(MenuBatch.menu_item_id, func.sum(MenuBatch.portions - MenuBatch.allocated))
        .join(DishBatch, col(DishBatch.id) == MenuBatch.batch_id)
        .where(
            col(MenuBatch.menu_item_id).in_(item_ids),
            col(MenuBatch.closed_at).is_(None),
            DishBatch.status == "active",
        )
        .group_by(MenuBatch.menu_item_id)
    )
    return {int(i): max(0, int(n or 0)) for i, n in session.exec(stmt).all()}


def merchants(*, session: Session, today: date) -> list[MerchantCard]:
    """Merchants that have a menu, with whether students can order from them now."""
    items = session.exec(
        select(MenuItem.id, MenuItem.merchant_id).where(col(MenuItem.available).is_(True))
    ).all()
    if not items:
        return []
    stock = remaining(session=session, item_ids=[i for i, _ in items if i is not None])
    counts: dict[int, int] = {}
    stocked: set[int] = set()
    for item_id, merchant_id in items:
        counts[merchant_id] = counts.get(merchant_id, 0) + 1
        if stock.get(item_id or 0):
            stocked.add(merchant_id)
    rows = session.exec(
        select(Merchant).where(col(Merchant.id).in_(list(counts))).order_by(col(Merchant.id))
    ).all()
    return [
        MerchantCard(m, counts[m.id], m.licence_expires_on >= today and m.id in stocked)
        for m in rows
        if m.id is not None
    ]


def merchant_of(*, session: Session, merchant_id: int) -> Merchant:
    """A merchant, or NotFound."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    return merchant


def check_own_item(actor: Actor, item: MenuItem) -> None:
    """Raise Forbidden unless the caller may change this dish."""
    if actor.role == "admin":
        return
    if actor.role != "merchant" or actor.merchant_id != item.merchant_id:
        raise Forbidden("this dish belongs to another merchant")
