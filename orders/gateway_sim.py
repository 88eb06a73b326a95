"""A simulated payment gateway for the demo and the tests, shared by every process.

It keeps its own records in the `payment_sim_*` tables (standing for a payment provider's
database): one row per charge or refund reference, so a repeated reference returns the first
receipt and never moves money twice, whichever web process or worker retries. Its behaviour is
a mode administrators (and tests) set at run time, recorded in the ledger:

    healthy  charges succeed
    slow     every answer takes `latency_ms`; beyond the caller's timeout the charge still
             happens but the caller gets GatewayTimeout (the ambiguous case retries must survive)
    failing  `failure_rate` of charges are declined (refunds still work)
    down     nothing answers: GatewayUnavailable
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

import ledger
from columns import UTCDateTime, utcnow
from orders.models import GATEWAY_MODE_SET, SimCharge, SimGatewayState
from orders.payments import (
    GATEWAY_MODES,
    GatewayConflict,
    GatewayTimeout,
    GatewayUnavailable,
    PaymentDeclined,
    Receipt,
)

STATE_TTL_SECONDS = 0.5  # how stale a process's view of the mode may be (others' changes)


class GatewayModeError(ValueError):
    """A mode, latency or failure rate out of range."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class GatewayMode:
    """The simulated gateway's behaviour."""

    mode: str = "healthy"
    latency_ms: int = 0
    failure_rate: float = 1.0


# engine -> (read at, mode): one read per engine and STATE_TTL_SECONDS for the whole process,
# whatever its number of threads (a dict read and write are atomic; a race reads twice)
_cache: dict[int, tuple[Engine, float, GatewayMode]] = {}
_changed = {"at": 0.0}  # bumped by set_gateway_mode: this process sees its own change at once


def gateway_mode(engine: Engine) -> GatewayMode:
    """The current mode (cached per process for STATE_TTL_SECONDS)."""
    cached = _cache.get(id(engine))
    now = time.monotonic()
    if (
        cached is not None
        and cached[0] is engine
        and now - cached[1] < STATE_TTL_SECONDS
        and cached[1] > _changed["at"]
    ):
        return cached[2]
    with engine.connect() as conn:
        row = conn.execute(
            select(SimGatewayState.mode, SimGatewayState.latency_ms, SimGatewayState.failure_rate)
        ).first()
        conn.rollback()
    state = GatewayMode(*row) if row is not None else GatewayMode()
    if len(_cache) > 16:  # tests build many engines
        _cache.clear()
    _cache[id(engine)] = (engine, now, state)
    return state


def set_gateway_mode(
    *, session: Session, mode: str, latency_ms: int = 0, failure_rate: float = 1.0, actor: str
) -> GatewayMode:
    """Set the simulated gateway's mode (administrators, tests); a ledger entry records it."""
    if mode not in GATEWAY_MODES:
        raise GatewayModeError(f"mode must be one of {', '.join(GATEWAY_MODES)}", field="mode")
    if not 0 <= latency_ms <= 120_000:
        raise GatewayModeError("latency_ms must be between 0 and 120000", field="latency_ms")
    if not 0.0 <= failure_rate <= 1.0:
        raise GatewayModeError("failure_rate must be between 0 and 1", field="failure_rate")
    row = session.get(SimGatewayState, 1) or SimGatewayState(id=1)
    row.mode, row.latency_ms, row.failure_rate = mode, int(latency_ms), float(failure_rate)
    row.updated_at, row.updated_by = utcnow(), actor
    payload = {"mode": mode, "latency_ms": row.latency_ms, "failure_rate": row.failure_rate}
    entry = ledger.append(
        session, ledger.Event(GATEWAY_MODE_SET, payload, actor=actor, subject={"gateway": 1})
    )
    row.ledger_index = entry.index
    session.add(row)
    session.commit()
    _changed["at"] = time.monotonic()
    return GatewayMode(mode, row.latency_ms, row.failure_rate)


class SimulatedGateway:
    """The PaymentGateway of the demo and tests (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311  (simulated declines)

    def lookup(self, *, reference: str) -> Receipt | None:
        """The receipt of a reference already processed, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(SimCharge.id, SimCharge.amount_fen).where(SimCharge.reference == reference)
            ).first()
            conn.rollback()
        if row is None:
            return None
        return Receipt(reference, f"sim-{row[0]}", int(row[1]), duplicate=True)

    def charge(self, *, reference: str, amount_fen: int, timeout: float) -> Receipt:
        """Charge once per reference, behaving as the current mode says."""
        return self._process("charge", reference, amount_fen, None, timeout)

    def refund(
        self, *, reference: str, charge_reference: str, amount_fen: int, timeout: float
    ) -> Receipt:
        """Refund part of a charge once per reference (declined if the charge is unknown)."""
        return self._process("refund", reference, amount_fen, charge_reference, timeout)

    def payout(
        self, *, reference: str, charge_reference: str, amount_fen: int, timeout: float
    ) -> Receipt:
        """Transfer to the payer of a charge once per reference (declined if it is unknown)."""
        return self._process("payout", reference, amount_fen, charge_reference, timeout)

    def _process(
        self, kind: str, reference: str, amount: int, charge_ref: str | None, timeout: float
    ) -> Receipt:
        state = gateway_mode(self.engine)
        if state.mode == "down":
            raise GatewayUnavailable("the payment gateway is unreachable")
        late = False
        if state.mode == "slow" and state.latency_ms > 0:
            wait = state.latency_ms / 1000
            late = wait > timeout
            self.sleep(min(wait, timeout))
        try:
            receipt = self._record(kind, reference, amount, charge_ref, state)
        except IntegrityError:  # a concurrent retry of the same reference got there first
            known = self.lookup(reference=reference)
            if known is None:
                raise GatewayUnavailable("the payment gateway failed; retry") from None
            receipt = known
        if receipt.amount_fen != amount:
            raise GatewayConflict(f"reference {reference} was used for another amount")
        if late:  # it happened, but the caller has stopped waiting
            raise GatewayTimeout("the payment gateway did not answer in time")
        return receipt

    def _record(
        self, kind: str, reference: str, amount: int, charge_ref: str | None, state: GatewayMode
    ) -> Receipt:
        """One transaction: a known reference answers as before; otherwise decide and record.

        The common case - a new charge while healthy - is one INSERT ... ON CONFLICT DO NOTHING
        (the unique reference refuses a duplicate atomically, across processes).
        """
        may_decline = kind != "charge" or state.mode == "failing"
        with self.engine.begin() as conn:
            if not may_decline:
                new_id = conn.execute(
                    _INSERT_NEW,
                    {"reference": reference, "kind": kind, "amount": amount,
                     "charge_ref": charge_ref, "at": utcnow()},
                ).scalar()  # fmt: skip
                if new_id is not None:
                    return Receipt(reference, f"sim-{new_id}", amount)
            known = select(SimCharge.id, SimCharge.amount_fen).where(
                SimCharge.reference == reference
            )
            row = conn.execute(known).first()
            if row is not None:
                return Receipt(reference, f"sim-{row[0]}", int(row[1]), duplicate=True)
            if kind == "charge" and self.rng.random() < state.failure_rate:
                raise PaymentDeclined("the payment was declined")
            if kind != "charge":  # a refund or payout goes back to the payer of a known charge
                charged = select(SimCharge.id).where(SimCharge.reference == charge_ref)
                if charge_ref is None or conn.execute(charged).first() is None:
                    raise PaymentDeclined(f"no charge {charge_ref} to {kind} against")
            new_id = conn.execute(
                insert(SimCharge).returning(SimCharge.id),
                {
                    "reference": reference,
                    "kind": kind,
                    "amount_fen": amount,
                    "charge_reference": charge_ref,
                    "created_at": utcnow(),
                },
            ).scalar_one()
        return Receipt(reference, f"sim-{new_id}", amount)


_INSERT_NEW = text(
    "INSERT INTO payment_sim_charges (reference, kind, amount_fen, charge_reference, created_at) "
    "VALUES (:reference, :kind, :amount, :charge_ref, :at) "
    "ON CONFLICT (reference) DO NOTHING RETURNING id"
).bindparams(bindparam("at", type_=UTCDateTime()))


def charge_count(engine: Engine, *, reference: str | None = None, kind: str = "charge") -> int:
    """How many charges (or refunds) the simulated gateway carried out (tests count them)."""
    from sqlalchemy import func

    stmt = select(func.count()).select_from(SimCharge).where(SimCharge.kind == kind)
    if reference is not None:
        stmt = stmt.where(SimCharge.reference == reference)
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())
