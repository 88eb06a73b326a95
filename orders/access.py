"""Who is asking, as plain data, and which orders they may see or change: pure.

A student sees their own orders; a merchant user the orders of the merchant it is bound to; a
courier the orders it carries (and, to claim one, the orders waiting for a courier); the
complaint desk and administrators every order. A record the caller may not see is "not found"
(404), so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from orders.errors import Forbidden

STAFF_ROLES = frozenset({"admin", "desk"})


@dataclass(frozen=True, slots=True)
class Actor:
    """A caller: user id, role and (merchant users) the merchant it is bound to."""

    user_id: int
    role: str
    merchant_id: int | None = None

    @property
    def ledger_actor(self) -> str:
        """How the ledger names this caller ("system:orders" for the system itself)."""
        return f"user:{self.user_id}" if self.user_id else "system:orders"

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def sees_order(self, *, user_id: int, merchant_id: int, courier_id: int | None) -> bool:
        """Whether this caller may read an order with these owners."""
        if self.is_staff:
            return True
        if self.role == "student":
            return user_id == self.user_id
        if self.role == "merchant":
            return self.merchant_id is not None and merchant_id == self.merchant_id
        if self.role == "courier":
            return courier_id == self.user_id
        return False

    def merchant_scope(self, requested: int | None = None) -> int:
        """The merchant a menu write is for: a merchant user's own, or the one an admin names."""
        if self.role == "admin" and requested is not None:
            return requested
        if self.role == "merchant" and self.merchant_id is not None:
            if requested is not None and requested != self.merchant_id:
                raise Forbidden("a merchant user may only change its own merchant's menu")
            return self.merchant_id
        raise Forbidden(f"the {self.role} role cannot change a merchant's menu")


SYSTEM = Actor(user_id=0, role="admin")
