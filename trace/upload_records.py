"""What validating an upload produces: typed records and row errors (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: spreadsheet row number, column key, human reason and a stable code."""

    row: int
    column: str
    reason: str
    code: str = "invalid"


@dataclass(frozen=True, slots=True)
class ReceivingRecord:
    """A validated receiving event (FSMA 204 receiving KDEs); times are UTC."""

    row: int
    tlc: str
    product: str
    quantity: Decimal
    unit: str
    supplier: str
    tlc_source: str | None
    tlc_source_reference: str | None
    received_at: datetime  # local midnight when only a date was given
    received_on: date  # the date as written, in the upload's timezone
    location: str
    reference_document_type: str
    reference_document_number: str
    expiry_date: date | None
    storage: str  # ambient | chilled | frozen


RECEIVING_FIELDS = tuple(f.name for f in fields(ReceivingRecord))


@dataclass(frozen=True, slots=True)
class ReceivingColumns:
    """Valid receiving rows column by column: `values[name]` lists each row's ReceivingRecord
    field `name` (every name of RECEIVING_FIELDS), in row order.

    Uploads write lots from the columns without building an object per row; `records()` gives
    the same rows as ReceivingRecords.
    """

    values: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.values["row"])

    def records(self) -> list[ReceivingRecord]:
        """The rows as records."""
        columns = (self.values[name] for name in RECEIVING_FIELDS)
        return [ReceivingRecord(*row) for row in zip(*columns, strict=True)]


@dataclass(frozen=True, slots=True)
class ProductionInput:
    """One input of a transformation; `in_file` when it is a batch made in the same upload."""

    row: int
    code: str
    quantity: Decimal
    unit: str
    in_file: bool


@dataclass(frozen=True, slots=True)
class ProductionRecord:
    """A validated transformation: one batch and its inputs; `row` is its first row."""

    row: int
    batch_code: str
    product: str
    quantity: Decimal
    unit: str
    completed_at: datetime
    location: str
    reference_document_type: str | None
    reference_document_number: str | None
    inputs: tuple[ProductionInput, ...]


R = TypeVar("R", ReceivingRecord, ProductionRecord)


@dataclass(frozen=True, slots=True)
class ValidationResult(Generic[R]):
    """Valid records (production: a batch after the in-file batches it uses) and all errors."""

    records: list[R]
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no row had an error."""
        return not self.errors
