"""Named errors of the ordering flow; orders.views maps each class to an HTTP status once.

`field` names the input at fault in the request's own terms (`items[1].quantity`,
`address.building`, `Idempotency-Key`), so every 4xx answer says what to fix.
"""

from __future__ import annotations


class OrderError(ValueError):
    """A request about orders that cannot be carried out; the message says why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidOrder(OrderError):
    """A value is missing, malformed or out of range (quantity, address, key)."""


class UnknownItem(OrderError):
    """A menu item that does not exist, or belongs to another merchant."""


class UnknownMerchant(OrderError):
    """No merchant with that id."""


class ItemUnavailable(OrderError):
    """A menu item the merchant has switched off, or a merchant that cannot sell now."""


class SoldOut(OrderError):
    """Not enough portions left in the open batches of a menu item."""


class PriceMismatch(OrderError):
    """The price or total the client expected is not the menu's."""


class IdempotencyConflict(OrderError):
    """The Idempotency-Key was used before with a different request body."""


class InvalidTransition(OrderError):
    """The order (or delivery) is not in a state where this action applies."""


class MenuError(OrderError):
    """A menu item, photo or batch that cannot be saved as given."""


class DeliveryError(OrderError):
    """A courier assignment, pickup or drop-off that cannot be recorded as given."""


class RefundError(OrderError):
    """A refund that cannot be made (order not paid, amount too large, key reused)."""


class VoucherError(OrderError):
    """A voucher that cannot be issued as asked (source order not paid, amount out of range)."""


class VoucherConflict(VoucherError):
    """The voucher's idempotency key was used before for another amount or order."""


class UnknownVoucher(OrderError):
    """No voucher with that code among the customer's own (also: a code of someone else's)."""


class VoucherUnusable(OrderError):
    """The customer's voucher cannot pay now: it has expired or has no balance left."""


class NotFound(LookupError):
    """No such order, menu item, batch or delivery (or none the caller may see)."""


class Forbidden(PermissionError):
    """The caller may see the record but not do this to it (another courier's delivery)."""
