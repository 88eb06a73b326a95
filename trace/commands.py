"""What callers ask the trace services to record, as plain data (API, forms, uploads, EPCIS).

Times are timezone-aware; quantities are positive; codes are the merchant's own lot codes (TLC)
and batch codes. An input names its source either by id (`kind` + `id`) or by code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal, TypeAlias

SourceKind: TypeAlias = Literal["lot", "batch"]
StatusAction: TypeAlias = Literal["hold", "release", "recall", "dispose"]


@dataclass(frozen=True, slots=True)
class LotReceipt:
    """A receiving event's key data elements (21 CFR 1.1345(a)); optional ones may be missing
    and then count against the merchant's completeness score."""

    tlc: str
    product_id: int
    quantity: float
    unit: str
    received_at: datetime
    supplier_id: int | None = None
    tlc_source: str | None = None
    tlc_source_reference: str | None = None
    location: str | None = None
    reference_document_type: str | None = None
    reference_document_number: str | None = None
    expiry_date: date | None = None
    storage: str | None = None
    epcis_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class InputUse:
    """One input of a transformation: by id (`kind`, `id`) or by lot/batch `code`."""

    quantity: float
    unit: str
    kind: SourceKind | None = None
    id: int | None = None
    code: str | None = None

    def label(self) -> str:
        """How the input is named in messages."""
        return self.code if self.code is not None else f"{self.kind} {self.id}"


@dataclass(frozen=True, slots=True)
class BatchProduction:
    """A transformation (21 CFR 1.1350(a)): inputs used, and the new batch made from them."""

    batch_code: str
    product_id: int
    quantity: float
    unit: str
    completed_at: datetime
    inputs: tuple[InputUse, ...]
    location: str | None = None
    reference_document_type: str | None = None
    reference_document_number: str | None = None
    epcis_event_id: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedInput:
    """An input whose source is known: kind, id (None while `pending`: a batch made earlier in
    the same submission, by its position), and the facts the checks need."""

    kind: SourceKind
    id: int | None
    merchant_id: int
    status: str
    at: datetime  # received (lot) or completed (batch)
    expiry_date: date | None = None
    transferred_to: frozenset[int] = field(default_factory=frozenset)
    pending: int | None = None
    code: str = ""
