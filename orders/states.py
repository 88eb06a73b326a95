"""Order, payment and delivery states and the moves between them: pure.

An order is `placed`, then the merchant `accepted` or `rejected` it; `ready` when cooked;
`out_for_delivery` once a courier picked it up; `delivered` at drop-off. A payment that finally
fails `cancelled` an order nobody has picked up yet. Payment is its own state: `pending` while
the gateway is asked, `paid`, `deferred` (the gateway was down or too slow: the order stands
and the charge is retried), `failed` (the gateway refused it), or `void` (the kitchen rejected
the order before it was charged: nobody will charge it). A rejected order that was paid is
refunded in full.
"""

from __future__ import annotations

from collections.abc import Mapping

from orders.errors import InvalidTransition


def N_(message: str) -> str:
    """Marks a string for translation; it is translated where it is shown."""
    return message


PLACED, ACCEPTED, REJECTED, READY = "placed", "accepted", "rejected", "ready"
OUT_FOR_DELIVERY, DELIVERED, CANCELLED = "out_for_delivery", "delivered", "cancelled"
ORDER_STATUSES = (PLACED, ACCEPTED, REJECTED, READY, OUT_FOR_DELIVERY, DELIVERED, CANCELLED)
OPEN_STATUSES = frozenset({PLACED, ACCEPTED, READY, OUT_FOR_DELIVERY})

PENDING, PAID, DEFERRED, FAILED, VOID = "pending", "paid", "deferred", "failed", "void"
PAYMENT_STATUSES = (PENDING, PAID, DEFERRED, FAILED, VOID)
UNSETTLED_PAYMENTS = frozenset({PENDING, DEFERRED})
# A charge that went through after the order was rejected is still recorded (then refunded).
PAID_MAY_FOLLOW = UNSETTLED_PAYMENTS | {VOID}

ASSIGNED, PICKED_UP = "assigned", "picked_up"
DELIVERY_STATUSES = (ASSIGNED, PICKED_UP, DELIVERED)

# action -> (order statuses it applies to, status it leaves the order in)
MOVES: Mapping[str, tuple[frozenset[str], str]] = {
    "accept": (frozenset({PLACED}), ACCEPTED),
    "reject": (frozenset({PLACED, ACCEPTED}), REJECTED),
    "ready": (frozenset({ACCEPTED}), READY),
    "pickup": (frozenset({READY}), OUT_FOR_DELIVERY),
    "dropoff": (frozenset({OUT_FOR_DELIVERY}), DELIVERED),
}
ASSIGNABLE = frozenset({PLACED, ACCEPTED, READY})  # a courier may be lined up before cooking ends
CANCELLED_BY_FAILED_PAYMENT = frozenset({PLACED, ACCEPTED, READY})

ORDER_LABELS = {
    PLACED: N_("Placed"),
    ACCEPTED: N_("Accepted by the kitchen"),
    REJECTED: N_("Rejected by the kitchen"),
    READY: N_("Ready for pickup"),
    OUT_FOR_DELIVERY: N_("On its way"),
    DELIVERED: N_("Delivered"),
    CANCELLED: N_("Cancelled"),
}
PAYMENT_LABELS = {
    PENDING: N_("Payment in progress"),
    PAID: N_("Paid"),
    DEFERRED: N_("Payment deferred: we will charge when the payment service is back"),
    FAILED: N_("Payment failed"),
    VOID: N_("Not charged"),
}
DELIVERY_LABELS = {
    ASSIGNED: N_("Courier assigned"),
    PICKED_UP: N_("Picked up"),
    DELIVERED: N_("Delivered"),
}


def next_status(action: str, status: str, payment_status: str) -> str:
    """The order status after `action`, or InvalidTransition."""
    allowed, after = MOVES[action]
    if status not in allowed:
        raise InvalidTransition(f"cannot {action} an order that is {status.replace('_', ' ')}")
    if action in ("accept", "ready", "pickup") and payment_status == FAILED:
        raise InvalidTransition(f"cannot {action} an order whose payment failed")
    return after


def after_failed_payment(status: str) -> str:
    """What a finally failed payment does to the order: cancel it unless it left the kitchen."""
    return CANCELLED if status in CANCELLED_BY_FAILED_PAYMENT else status
