"""Compensation: the statutory damages calculator and the check of a remedy decision. Pure.

Money is whole fen (``int``; 1 yuan = 100 fen) everywhere; yuan text is parsed with
``Decimal`` and never passes through ``float``. The multipliers and the minimum come from
``compensation_rules.json`` (China Food Safety Law art. 148, cited there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

__all__ = [
    "REMEDIES",
    "CompensationError",
    "StatutoryDamages",
    "StatutoryRules",
    "check_decision",
    "default_statutory_rules",
    "fen_to_yuan",
    "load_statutory_rules",
    "statutory_damages",
    "yuan_to_fen",
]

DEFAULT_RULES = Path(__file__).with_name("compensation_rules.json")
REMEDIES = ("refund", "voucher", "statutory")
MAX_FEN = 10**11  # one billion yuan: anything larger is a typing error


class CompensationError(ValueError):
    """A calculation or decision that cannot stand; ``field`` names the bad input."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class StatutoryRules:
    """Art. 148 numbers: multipliers of price and loss, and the minimum in fen."""

    price_multiplier: int
    loss_multiplier: int
    minimum_fen: int
    source: str


@dataclass(frozen=True, slots=True)
class StatutoryDamages:
    """The damages a consumer may claim and how they were reached.

    ``damages_fen`` = max(price × 10, loss × 3, minimum); ``basis`` says which one won
    ("price", "loss" or "minimum"); ``total_claim_fen`` adds the loss itself, which art. 148
    grants on top of the damages.
    """

    price_paid_fen: int
    loss_fen: int
    from_price_fen: int
    from_loss_fen: int
    minimum_fen: int
    damages_fen: int
    basis: str
    total_claim_fen: int


def load_statutory_rules(path: str | Path | None = None) -> StatutoryRules:
    """Read and validate the rules file (default: ``complaints/compensation_rules.json``)."""
    raw = json.loads(Path(path or DEFAULT_RULES).read_text(encoding="utf-8"))
    values = [raw.get(k) for k in ("price_multiplier", "loss_multiplier", "minimum_fen")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise CompensationError("compensation rules must be non-negative whole numbers")
    if not isinstance(raw.get("source"), str):
        raise CompensationError("compensation rules must cite their source")
    return StatutoryRules(values[0], values[1], values[2], raw["source"])


@cache
def default_statutory_rules() -> StatutoryRules:
    """The bundled rules, loaded once."""
    return load_statutory_rules()


def _fen(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CompensationError(f"{field} must be whole fen (an integer)", field=field)
    if value < 0:
        raise CompensationError(f"{field} must not be negative", field=field)
    if value > MAX_FEN:
        raise CompensationError(f"{field} is implausibly large", field=field)
    return value


def statutory_damages(
    *, price_paid_fen: int, loss_fen: int = 0, rules: StatutoryRules | None = None
) -> StatutoryDamages:
    """Art. 148 damages: the larger of 10 × the price paid or 3 × the loss, at least ¥1,000."""
    r = rules or default_statutory_rules()
    price, loss = _fen(price_paid_fen, "price_paid_fen"), _fen(loss_fen, "loss_fen")
    candidates = {
        "price": price * r.price_multiplier,
        "loss": loss * r.loss_multiplier,
        "minimum": r.minimum_fen,
    }
    # Ties go to the statutory ground over the minimum (price first): the order of this dict.
    basis = max(candidates, key=lambda k: candidates[k])
    damages = candidates[basis]
    return StatutoryDamages(
        price_paid_fen=price,
        loss_fen=loss,
        from_price_fen=candidates["price"],
        from_loss_fen=candidates["loss"],
        minimum_fen=r.minimum_fen,
        damages_fen=damages,
        basis=basis,
        total_claim_fen=damages + loss,
    )


def yuan_to_fen(text: str | Decimal | int, field: str = "amount") -> int:
    """Yuan as typed ("50", "12.5", "¥1,000.00") to whole fen; refuses more than 2 decimals."""
    if isinstance(text, bool):
        raise CompensationError(f"{field} must be an amount in yuan", field=field)
    raw = str(text).strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise CompensationError(f"{field}: {text!r} is not an amount", field=field) from None
    if not amount.is_finite() or amount < 0:
        raise CompensationError(f"{field} must be a non-negative amount", field=field)
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise CompensationError(f"{field} has more than two decimals", field=field)
    return _fen(int(fen), field)


def fen_to_yuan(fen: int) -> str:
    """Whole fen as yuan with two decimals and thousands separators ("1,000.00")."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def check_decision(
    *,
    remedy: str,
    amount_fen: int | None,
    price_paid_fen: int | None,
    loss_fen: int | None,
    rules: StatutoryRules | None = None,
) -> int:
    """The amount a remedy decision pays, or :class:`CompensationError` naming the field.

    refund: 1 fen up to the price paid (needed); voucher: any positive amount; statutory:
    exactly the art. 148 damages from the price paid (needed) and the loss (default 0).
    """
    if remedy not in REMEDIES:
        raise CompensationError(f"remedy must be one of {', '.join(REMEDIES)}", field="remedy")
    if remedy == "statutory":
        if price_paid_fen is None:
            raise CompensationError("statutory damages need the price paid", field="price_paid_fen")
        damages = statutory_damages(
            price_paid_fen=price_paid_fen, loss_fen=loss_fen or 0, rules=rules
        ).damages_fen
        if amount_fen is not None and amount_fen != damages:
            raise CompensationError(
                f"statutory damages are {damages} fen, not {amount_fen}", field="amount_fen"
            )
        return damages
    if amount_fen is None:
        raise CompensationError(f"a {remedy} needs an amount", field="amount_fen")
    amount = _fen(amount_fen, "amount_fen")
    if amount == 0:
        raise CompensationError("the amount must be at least 1 fen", field="amount_fen")
    if remedy == "refund":
        if price_paid_fen is None:
            raise CompensationError("a refund needs the price paid", field="price_paid_fen")
        if amount > _fen(price_paid_fen, "price_paid_fen"):
            raise CompensationError("a refund cannot exceed the price paid", field="amount_fen")
    return amount
