"""Who is asking, as plain data: which merchant's records a caller may read and write.

Administrators and the complaint desk see every merchant; a merchant user sees only the records
of the merchant it is bound to (User.merchant_id → merchants.id). Views build a Viewer from the
signed-in user; services take it and never look at Flask.
"""

from __future__ import annotations

from dataclasses import dataclass

from trace.errors import ForeignRecord, InvalidRecord

ALL_MERCHANTS_ROLES = frozenset({"admin", "desk"})
WRITE_ANY_MERCHANT_ROLES = frozenset({"admin"})


@dataclass(frozen=True, slots=True)
class Viewer:
    """A caller: the ledger actor string ("user:5"), its role and bound merchant."""

    actor: str
    role: str
    merchant_id: int | None = None

    @property
    def sees_all(self) -> bool:
        """True for roles that read every merchant's records."""
        return self.role in ALL_MERCHANTS_ROLES

    def visible_merchant(self) -> int | None:
        """The merchant whose records this caller is limited to (None: all)."""
        return None if self.sees_all else self._own()

    def check_can_see(self, merchant_id: int | None) -> None:
        """Raise ForeignRecord unless the caller may read records of `merchant_id`."""
        if self.sees_all:
            return
        if merchant_id is None or merchant_id != self._own():
            raise ForeignRecord("this record belongs to another merchant")

    def merchant_to_write(self, requested: int | None) -> int:
        """The merchant a write is for: a merchant user's own, or the one an admin names."""
        if self.role in WRITE_ANY_MERCHANT_ROLES:
            if requested is None:
                raise InvalidRecord("name the merchant (merchant_id)", field="merchant_id")
            return requested
        own = self._own()
        if requested is not None and requested != own:
            raise ForeignRecord("a merchant user may only write its own merchant's records")
        return own

    def _own(self) -> int:
        if self.role != "merchant" or self.merchant_id is None:
            raise ForeignRecord(f"the {self.role} role has no merchant's records")
        return self.merchant_id


SYSTEM = Viewer(actor="system", role="admin")
