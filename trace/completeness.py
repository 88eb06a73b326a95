"""Completeness of a merchant's records: which required KDEs are missing, and what expires soon.

Pure functions over plain mappings (one per lot or batch, with the KDE keys of
trace_rules.json); the service reads the rows. The score is the share of required KDEs present
over all the merchant's lots and batches (1.0 when there are none to check).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from trace.rules import Kde


@dataclass(frozen=True, slots=True)
class Gap:
    """A lot or batch with missing KDEs."""

    kind: str  # lot | batch
    id: int
    code: str
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Completeness:
    """Required KDEs present over required KDEs expected, and where they are missing."""

    records: int
    required: int
    present: int
    missing_by_kde: Mapping[str, int]
    gaps: tuple[Gap, ...]

    @property
    def score(self) -> float:
        """Share of required KDEs present (1.0 when nothing is required)."""
        return 1.0 if self.required == 0 else self.present / self.required


@dataclass(frozen=True, slots=True)
class Expiry:
    """A licence or certificate expiring within the warning window, or already expired."""

    holder_kind: str  # supplier | merchant
    holder_id: int
    holder: str
    document: str
    number: str
    expires_on: date
    days_left: int

    @property
    def expired(self) -> bool:
        """True once the expiry date has passed."""
        return self.days_left < 0


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def lot_missing(lot: Mapping[str, Any], kdes: Sequence[Kde]) -> tuple[str, ...]:
    """Receiving KDEs a lot lacks (keys of `kdes`)."""
    present = {
        "tlc": not _blank(lot.get("tlc")),
        "quantity": not _blank(lot.get("quantity")) and not _blank(lot.get("unit")),
        "product": not _blank(lot.get("product")),
        "supplier": not _blank(lot.get("supplier_id")),
        "location": not _blank(lot.get("location")),
        "received_at": not _blank(lot.get("received_at")),
        "tlc_source": not (
            _blank(lot.get("tlc_source")) and _blank(lot.get("tlc_source_reference"))
        ),
        "reference_document": not (
            _blank(lot.get("reference_document_type"))
            or _blank(lot.get("reference_document_number"))
        ),
    }
    return tuple(k.key for k in kdes if not present.get(k.key, False))


def batch_missing(batch: Mapping[str, Any], kdes: Sequence[Kde]) -> tuple[str, ...]:
    """Transformation KDEs a batch lacks (keys of `kdes`)."""
    present = {
        "inputs": bool(batch.get("inputs")),
        "batch_code": not _blank(batch.get("batch_code")),
        "location": not _blank(batch.get("location")),
        "completed_at": not _blank(batch.get("completed_at")),
        "quantity": not _blank(batch.get("quantity")) and not _blank(batch.get("unit")),
        "product": not _blank(batch.get("product")),
        "reference_document": not (
            _blank(batch.get("reference_document_type"))
            or _blank(batch.get("reference_document_number"))
        ),
    }
    return tuple(k.key for k in kdes if not present.get(k.key, False))


def completeness(
    lots: Iterable[Mapping[str, Any]],
    batches: Iterable[Mapping[str, Any]],
    *,
    receiving: Sequence[Kde],
    transformation: Sequence[Kde],
    max_gaps: int = 200,
) -> Completeness:
    """Score the records; lists up to `max_gaps` records with missing KDEs."""
    records = required = present = 0
    missing: Counter[str] = Counter()
    gaps: list[Gap] = []
    for kind, rows, kdes, find, code in (
        ("lot", lots, receiving, lot_missing, "tlc"),
        ("batch", batches, transformation, batch_missing, "batch_code"),
    ):
        for row in rows:
            records += 1
            lacking = find(row, kdes)  # type: ignore[operator]
            required += len(kdes)
            present += len(kdes) - len(lacking)
            missing.update(lacking)
            if lacking and len(gaps) < max_gaps:
                gaps.append(Gap(kind, int(row["id"]), str(row.get(code) or ""), lacking))
    return Completeness(records, required, present, dict(missing), tuple(gaps))


def expiring(
    documents: Iterable[Mapping[str, Any]], *, today: date, window: timedelta
) -> list[Expiry]:
    """Documents expired or expiring within `window` of `today`, soonest first.

    Each mapping has holder_kind, holder_id, holder, document, number, expires_on.
    """
    out = []
    for d in documents:
        days = (d["expires_on"] - today).days
        if days <= window.days:
            out.append(
                Expiry(
                    holder_kind=d["holder_kind"],
                    holder_id=int(d["holder_id"]),
                    holder=d["holder"],
                    document=d["document"],
                    number=d["number"],
                    expires_on=d["expires_on"],
                    days_left=days,
                )
            )
    return sorted(out, key=lambda e: (e.expires_on, e.holder_kind, e.holder_id))
