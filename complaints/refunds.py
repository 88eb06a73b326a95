"""The orders module's payment interface behind complaints.payments.PaymentPort.

Refunds go through `orders.service.refund` with the compensation's payout key as idempotency
key, so a payout retried after a crash (or clicked twice) pays once on the payment side too.
The orders module has no voucher interface: a voucher decision cannot be paid out through it
(PaymentFailed says so) and stays "decided" for the desk to settle by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from complaints.payments import PaymentFailed, PaymentReceipt
from orders import errors as order_errors
from orders import service as orders

__all__ = ["OrdersPayments", "PaymentPending"]


class PaymentPending(PaymentFailed):
    """The gateway is down: the refund is recorded and will be paid by reconciliation."""


@dataclass
class OrdersPayments:
    """PaymentPort on the orders module's refund interface, in the caller's session."""

    session: Session
    actor: str
    gateway: object | None = None  # orders' default (the deployment's gateway) when None

    def refund(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Refund `amount` fen of the order; the same key refunds once."""
        try:
            result = orders.refund(
                session=self.session,
                order_id=order_id,
                amount_fen=amount,
                idempotency_key=idempotency_key,
                actor=self.actor,
                reason=f"complaint compensation {idempotency_key}",
                gateway=self.gateway,  # type: ignore[arg-type]
            )
        except (order_errors.RefundError, order_errors.NotFound) as exc:
            raise PaymentFailed(str(exc)) from exc
        if result.status == "pending":
            raise PaymentPending(
                "the payment service is unavailable; the refund is recorded and will be paid "
                "when it is back (pay again to check)"
            )
        if result.status != "succeeded":
            raise PaymentFailed("the payment service refused the refund")
        return PaymentReceipt(result.reference, result.amount_fen)

    def issue_voucher(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Vouchers: the orders module has no interface for them yet."""
        raise PaymentFailed("the orders module's payment interface has no vouchers")
