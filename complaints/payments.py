"""The seam to the orders module's payment interface (issue 5), and a recording fake.

Pure. Compensation payouts go through a :class:`PaymentPort`; part 2 of the complaint desk
wires the orders module's implementation in. Every call carries an idempotency key (the
decision's payout key), so a retry after a crash never pays twice on the payment side either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["PaymentFailed", "PaymentPort", "PaymentReceipt", "RecordingPayments"]


class PaymentFailed(RuntimeError):
    """The payment side refused or failed; nothing was paid."""


@dataclass(frozen=True, slots=True)
class PaymentReceipt:
    """What the payment side answers: its own reference for the payout."""

    reference: str
    amount_fen: int


@runtime_checkable
class PaymentPort(Protocol):
    """Refunds, vouchers and statutory damages against an order, idempotent by key."""

    def refund(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Pay ``amount`` fen back to the payer of ``order_id``; the same key pays once."""
        ...

    def issue_voucher(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Credit a voucher of ``amount`` fen to the customer of ``order_id``; once per key."""
        ...

    def pay_damages(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Pay ``amount`` fen of statutory damages to the payer of ``order_id``; once per key.

        Unlike a refund it is not bounded by the price paid (art. 148: 10 × the price or more).
        """
        ...


@dataclass
class RecordingPayments:
    """A fake PaymentPort for tests and the demo: records calls, pays each key once."""

    calls: list[tuple[str, int, int, str]] = field(default_factory=list)
    fail: bool = False
    _paid: dict[str, PaymentReceipt] = field(default_factory=dict)

    def _pay(self, what: str, order_id: int, amount: int, key: str) -> PaymentReceipt:
        self.calls.append((what, order_id, amount, key))
        if self.fail:
            raise PaymentFailed("the payment service is down")
        if key not in self._paid:
            self._paid[key] = PaymentReceipt(f"fake-{what}-{len(self._paid) + 1}", amount)
        return self._paid[key]

    def refund(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Record a refund."""
        return self._pay("refund", order_id, amount, idempotency_key)

    def issue_voucher(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Record a voucher."""
        return self._pay("voucher", order_id, amount, idempotency_key)

    def pay_damages(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Record a statutory damages payout."""
        return self._pay("damages", order_id, amount, idempotency_key)

    @property
    def paid_keys(self) -> set[str]:
        """Keys that resulted in a payout."""
        return set(self._paid)
