"""Named errors of the trace domain; views map each class to an HTTP status once."""

from __future__ import annotations

from typing import Any


class TraceError(ValueError):
    """A trace request that cannot be carried out; the message says why.

    `field` names the input at fault; `details` carries a list of per-row/per-event problems.
    """

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.details = details


class InvalidRecord(TraceError):
    """A value is missing, malformed or out of range (quantity ≤ 0, unknown unit, …)."""


class FutureTime(InvalidRecord):
    """A receive, completion or event time lies in the future."""


class UnknownReference(TraceError):
    """A lot, batch, supplier or product code that names nothing known to this merchant."""


class DuplicateCode(TraceError):
    """The lot code, batch code, licence number or identifier is already recorded."""


class LicenceExpired(TraceError):
    """A supplier's certificates or a merchant's food business licence had expired."""


class MerchantMismatch(TraceError):
    """A record of one merchant used by another (an input lot that was never transferred)."""


class CycleRefused(TraceError):
    """The inputs would make a batch (indirectly) an input of itself."""


class InvalidStatusChange(TraceError):
    """The hold/release/recall/disposal does not apply to the record's current status."""


class TraceTooLarge(TraceError):
    """A trace would reach more nodes than one answer may carry; narrow it with time bounds."""


class UploadTooLarge(TraceError):
    """The uploaded file is larger than the limit."""


class NotFound(LookupError):
    """No record with that id (or not one the caller may see)."""


class ForeignRecord(LookupError):
    """The record belongs to another merchant than the caller's."""
