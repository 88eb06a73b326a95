"""Checking an order request against a menu and pricing it: pure, no I/O.

Every problem raises a named error whose `field` says which input is at fault, in the
request's own terms (`items[1].quantity`, `address.building`), so the API answers 4xx naming it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from orders.errors import (
    IdempotencyConflict,
    InvalidOrder,
    ItemUnavailable,
    OrderError,
    PriceMismatch,
    SoldOut,
    UnknownItem,
)

__all__ = [
    "Address",
    "IdempotencyConflict",
    "LineRequest",
    "MenuEntry",
    "OrderError",
    "OrderRequest",
    "PricedLine",
    "SoldOut",
    "delivery_food_class",
    "normalised",
    "order_total",
    "priced_lines",
    "request_digest",
    "voucher_code",
]

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")  # visible ASCII, as HTTP header values are
PHONE_PATTERN = re.compile(r"\+?[0-9][0-9 -]{3,19}")
VOUCHER_CODE_PATTERN = re.compile(r"V[0-9A-HJKMNP-TV-Z]{10}")  # V + Crockford base32
CROCKFORD_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


@dataclass(frozen=True, slots=True)
class Address:
    """Where to deliver on campus: dormitory/building and room; phone optional."""

    building: str
    room: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class LineRequest:
    """One requested dish; `unit_price_fen` is the price the client saw (optional check)."""

    menu_item_id: int
    quantity: int
    unit_price_fen: int | None = None


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What a student asks for; (user_id, idempotency_key) names the order once and for all."""

    user_id: int
    merchant_id: int
    items: tuple[LineRequest, ...]
    address: Address
    idempotency_key: str
    expected_total_fen: int | None = None  # of the lines, before any voucher
    note: str = ""
    voucher_code: str | None = None  # a voucher of this customer's pays first (orders.vouchers)


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """What checking needs to know about a menu item."""

    id: int
    merchant_id: int
    name: str
    price_fen: int
    available: bool
    food_class: str


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A checked line at the menu price."""

    menu_item_id: int
    name: str
    unit_price_fen: int
    quantity: int
    food_class: str

    @property
    def total_fen(self) -> int:
        return self.unit_price_fen * self.quantity


def normalised(request: OrderRequest, *, max_quantity: int, max_lines: int) -> OrderRequest:
    """The request with trimmed text, or InvalidOrder naming the first bad field."""
    if not KEY_PATTERN.fullmatch(request.idempotency_key or ""):
        raise InvalidOrder(
            "Idempotency-Key must be 1-200 visible ASCII characters", field="Idempotency-Key"
        )
    if not request.items:
        raise InvalidOrder("an order needs at least one item", field="items")
    if len(request.items) > max_lines:
        raise InvalidOrder(f"at most {max_lines} different items per order", field="items")
    seen: set[int] = set()
    for i, line in enumerate(request.items):
        if line.menu_item_id in seen:
            raise InvalidOrder(
                f"menu item {line.menu_item_id} is listed twice; add up the quantity",
                field=f"items[{i}].menu_item_id",
            )
        seen.add(line.menu_item_id)
        if not 1 <= line.quantity <= max_quantity:
            raise InvalidOrder(
                f"quantity must be between 1 and {max_quantity}", field=f"items[{i}].quantity"
            )
        if line.unit_price_fen is not None and line.unit_price_fen < 0:
            raise InvalidOrder("a price cannot be negative", field=f"items[{i}].unit_price_fen")
    address = Address(
        building=(request.address.building or "").strip(),
        room=(request.address.room or "").strip(),
        phone=(request.address.phone or "").strip(),
    )
    for name, value, limit in (("building", address.building, 120), ("room", address.room, 40)):
        if not value:
            raise InvalidOrder(f"the delivery address needs a {name}", field=f"address.{name}")
        if len(value) > limit:
            raise InvalidOrder(f"{name} is longer than {limit}", field=f"address.{name}")
    if address.phone and not PHONE_PATTERN.fullmatch(address.phone):
        raise InvalidOrder("not a phone number", field="address.phone")
    note = (request.note or "").strip()
    if len(note) > 200:
        raise InvalidOrder("the note is longer than 200 characters", field="note")
    if request.expected_total_fen is not None and request.expected_total_fen < 0:
        raise InvalidOrder("a total cannot be negative", field="expected_total_fen")
    return OrderRequest(
        user_id=request.user_id,
        merchant_id=request.merchant_id,
        items=request.items,
        address=address,
        idempotency_key=request.idempotency_key,
        expected_total_fen=request.expected_total_fen,
        note=note,
        voucher_code=voucher_code(request.voucher_code),
    )


def voucher_code(typed: str | None) -> str | None:
    """A typed voucher code in its stored form (upper case, spaces and dashes dropped, Crockford
    look-alikes O→0, I/L→1), None when blank; InvalidOrder when it cannot be a code."""
    if typed is None:
        return None
    code = "".join(typed.split()).replace("-", "").upper()
    if not code:
        return None
    code = code[:1] + code[1:].translate(CROCKFORD_ALIASES)
    if not VOUCHER_CODE_PATTERN.fullmatch(code):
        raise InvalidOrder(
            "not a voucher code (V and 10 letters or digits, as on the voucher)",
            field="voucher_code",
        )
    return code


def request_digest(request: OrderRequest) -> str:
    """SHA-256 of the request body as the server understood it (same body, same digest)."""
    body = {
        "merchant_id": request.merchant_id,
        "items": [[i.menu_item_id, i.quantity, i.unit_price_fen] for i in request.items],
        "address": [request.address.building, request.address.room, request.address.phone],
        "expected_total_fen": request.expected_total_fen,
        "note": request.note,
    }
    if request.voucher_code is not None:  # only then: digests without one stay as they were
        body["voucher_code"] = request.voucher_code
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def priced_lines(request: OrderRequest, menu: Mapping[int, MenuEntry]) -> list[PricedLine]:
    """The request's lines at menu prices; raises UnknownItem, ItemUnavailable, PriceMismatch."""
    lines = []
    for i, line in enumerate(request.items):
        entry = menu.get(line.menu_item_id)
        if entry is None:
            raise UnknownItem(f"no menu item {line.menu_item_id}", field=f"items[{i}].menu_item_id")
        if entry.merchant_id != request.merchant_id:
            raise UnknownItem(
                f"menu item {line.menu_item_id} belongs to another merchant",
                field=f"items[{i}].menu_item_id",
            )
        if not entry.available:
            raise ItemUnavailable(f"{entry.name} is not available", field=f"items[{i}]")
        if line.unit_price_fen is not None and line.unit_price_fen != entry.price_fen:
            raise PriceMismatch(
                f"{entry.name} costs {entry.price_fen} fen, not {line.unit_price_fen}",
                field=f"items[{i}].unit_price_fen",
            )
        lines.append(
            PricedLine(entry.id, entry.name, entry.price_fen, line.quantity, entry.food_class)
        )
    total = order_total(lines)
    if request.expected_total_fen is not None and request.expected_total_fen != total:
        raise PriceMismatch(
            f"the total is {total} fen, not {request.expected_total_fen}",
            field="expected_total_fen",
        )
    return lines


def order_total(lines: Sequence[PricedLine]) -> int:
    """The sum of the lines, in fen."""
    return sum(line.total_fen for line in lines)


# When an order mixes classes, the box is held for the strictest (a box has one temperature).
CLASS_PRIORITY = ("frozen", "cold", "hot", "ambient")


def delivery_food_class(classes: Sequence[str]) -> str:
    """The food class a delivery box must hold for these lines."""
    for food_class in CLASS_PRIORITY:
        if food_class in classes:
            return food_class
    return "ambient"
