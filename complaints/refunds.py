"""The orders module's payment interface behind complaints.payments.PaymentPort.

Refunds go through `orders.service.refund` and statutory damages through `orders.service.payout`
(a transfer to the order's payer, not bounded by the price), each with the compensation's payout
key as idempotency key, so a payout retried after a crash (or clicked twice) pays once on the
payment side too.
Vouchers go through `orders.service.issue_voucher` with the payout key as idempotency key: the
order's customer is credited once, and the receipt's reference is the voucher code to spend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from complaints.payments import PaymentFailed, PaymentReceipt
from orders import errors as order_errors
from orders import service as orders
from orders.service import RefundResult

__all__ = ["OrdersPayments", "PaymentPending"]


class PaymentPending(PaymentFailed):
    """The gateway is down: the refund is recorded and will be paid by reconciliation."""


@dataclass
class OrdersPayments:
    """PaymentPort on the orders module's refund interface, in the caller's session."""

    session: Session
    actor: str
    gateway: object | None = None  # orders' default (the deployment's gateway) when None
    config: orders.OrdersConfig | None = None  # the deployment's orders rules (voucher validity)

    def refund(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Refund `amount` fen of the order; the same key refunds once."""
        return self._money_back(orders.refund, "refund", order_id, amount, idempotency_key)

    def pay_damages(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Pay statutory damages to the order's payer (orders' payout); once per key."""
        return self._money_back(orders.payout, "payout", order_id, amount, idempotency_key)

    def _money_back(
        self, pay: Callable[..., RefundResult], what: str, order_id: int, amount: int, key: str
    ) -> PaymentReceipt:
        try:
            result = pay(
                session=self.session,
                order_id=order_id,
                amount_fen=amount,
                idempotency_key=key,
                actor=self.actor,
                reason=f"complaint compensation {key}",
                gateway=self.gateway,
                config=self.config,
            )
        except (order_errors.RefundError, order_errors.NotFound) as exc:
            raise PaymentFailed(str(exc)) from exc
        if result.status == "pending":
            raise PaymentPending(
                f"the payment service is unavailable; the {what} is recorded and will be paid "
                "when it is back (pay again to check)"
            )
        if result.status != "succeeded":
            raise PaymentFailed(f"the payment service refused the {what}")
        return PaymentReceipt(result.reference, result.amount_fen)

    def issue_voucher(self, order_id: int, amount: int, idempotency_key: str) -> PaymentReceipt:
        """Credit a voucher of `amount` fen to the order's customer; the same key issues once.
        The receipt's reference is the voucher code."""
        try:
            result = orders.issue_voucher(
                session=self.session,
                order_id=order_id,
                amount_fen=amount,
                idempotency_key=idempotency_key,
                actor=self.actor,
                reason=f"complaint compensation {idempotency_key}",
                config=self.config or orders.OrdersConfig.from_mapping(),
            )
        except (order_errors.OrderError, order_errors.NotFound) as exc:
            raise PaymentFailed(str(exc)) from exc
        return PaymentReceipt(result.code, result.amount_fen)
