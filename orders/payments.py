"""The payment gateway interface and the retry schedule of deferred charges: pure.

A gateway charges and refunds by *reference*: the same reference never moves money twice, so a
retry after a timeout (when nobody knows whether the first attempt went through) is safe. The
charge reference of an order is derived from its id (`payment_reference`); a refund's from its
own id. `orders.gateway_sim.SimulatedGateway` implements this for the demo and the tests; a real
provider's adapter implements the same three methods.

Outcomes: a `Receipt` (done, or done before under the same reference: `duplicate=True`);
`PaymentDeclined` (a definite no: the order's payment fails); `GatewayUnavailable` (down, or
`GatewayTimeout`: the outcome is unknown; retry with the same reference later).

Refunds for complaints go through `orders.service.refund(...)`, which records them in the ledger
and calls `PaymentGateway.refund` with a reference derived from the refund's idempotency key.
Statutory damages (complaints) are larger than the price paid, so they cannot be a refund of the
charge: `orders.service.payout(...)` pays them to the payer of the order's charge through
`PaymentGateway.payout` (a provider's transfer to the payer's account), recorded the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

GATEWAY_MODES = ("healthy", "slow", "failing", "down")


class GatewayError(Exception):
    """Something went wrong talking to the payment gateway."""


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or did not answer: retry later, same reference."""


class GatewayTimeout(GatewayUnavailable):
    """The gateway did not answer in time; the charge may or may not have happened."""


class PaymentDeclined(GatewayError):
    """The gateway refused the charge or refund (a definite answer)."""


class GatewayConflict(GatewayError):
    """The reference was used before for a different amount (a bug on our side)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The gateway's answer to a successful charge or refund."""

    reference: str
    gateway_id: str
    amount_fen: int
    duplicate: bool = False  # the reference had been processed before; nothing new moved


@runtime_checkable
class PaymentGateway(Protocol):
    """What the ordering flow needs from a payment provider."""

    def charge(self, *, reference: str, amount_fen: int, timeout: float) -> Receipt:
        """Charge `amount_fen` once per `reference`; a repeat returns the first receipt."""
        ...

    def refund(
        self, *, reference: str, charge_reference: str, amount_fen: int, timeout: float
    ) -> Receipt:
        """Pay back part or all of the charge `charge_reference`, once per `reference`."""
        ...

    def payout(
        self, *, reference: str, charge_reference: str, amount_fen: int, timeout: float
    ) -> Receipt:
        """Pay `amount_fen` to the payer of the charge `charge_reference` (a transfer to their
        account, not bounded by the charge), once per `reference`."""
        ...

    def lookup(self, *, reference: str) -> Receipt | None:
        """The receipt of a reference already processed, or None."""
        ...


def payment_reference(order_id: int) -> str:
    """The charge reference of an order: derived from its id, so every retry uses the same."""
    return f"order-{order_id}"


def refund_reference(order_id: int, key_digest: str) -> str:
    """The reference of a refund: the order and (a digest of) the caller's idempotency key."""
    return f"refund-{order_id}-{key_digest[:24]}"


def payout_reference(order_id: int, key_digest: str) -> str:
    """The reference of a payout to an order's payer: the order and the key's digest."""
    return f"payout-{order_id}-{key_digest[:24]}"


def retry_delay(attempts: int, *, base: float, cap: float, jitter: float = 1.0) -> float:
    """Seconds to wait before attempt `attempts + 1`: base·2^(attempts-1), at most `cap`.

    `jitter` in [0.5, 1] (the caller draws it) spreads retries of orders deferred together.
    """
    if attempts < 1:
        return 0.0
    delay = min(cap, base * 2 ** min(attempts - 1, 32))
    return delay * min(1.0, max(0.5, jitter))
