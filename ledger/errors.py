"""Named errors of the ledger. HTTP layers map LookupError to 404 and ValueError to 400."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger.verify_proof import InvalidProof

if TYPE_CHECKING:
    from ledger.verification import Discrepancy

__all__ = [
    "InvalidEvent",
    "InvalidProof",
    "LedgerError",
    "NotCheckpointed",
    "TamperDetected",
    "UnknownIndex",
]


class LedgerError(ValueError):
    """Base of the ledger's own errors (InvalidProof, from verify_proof.py, is a ValueError too)."""


class InvalidEvent(LedgerError):
    """An event cannot become an entry (bad type, unknown personal field, no JSON form, ...)."""


class UnknownIndex(LedgerError, LookupError):
    """No entry at that index, or a tree size beyond the current log."""


class NotCheckpointed(UnknownIndex):
    """The entry exists but no signed checkpoint covers it yet: sign one, then ask again."""


class TamperDetected(LedgerError):
    """Stored ledger data disagrees with itself or with a signed checkpoint.

    `discrepancy` names the first differing index, table and row when verify() found it.
    """

    def __init__(self, message: str, discrepancy: Discrepancy | None = None) -> None:
        super().__init__(message)
        self.discrepancy = discrepancy
