"""Compensation vouchers: issued once per key to the order's customer, spent at checkout (in part
or in full, never beyond the balance, even by two orders of one batch), given back once when
the order is not eaten, and re-derived by `ledger verify` like every other row."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, update
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from orders import billing, checkout, errors, fulfilment, placement, vouchers
from orders.checkout import OrderRequest
from orders.gateway_sim import SimCharge, charge_count, set_gateway_mode
from orders.models import MenuBatch, Order, Refund, Voucher
from orders.payments import payment_reference
from orders.service import issue_voucher

LATER = timedelta(hours=1)


def paid_order(session, campus, config, gateway, key="source", who="student") -> int:
    order_id = placement.place_order(
        session=session, request=campus.request(key=key, who=who), config=config
    ).order_id
    assert billing.pay_order(session=session, gateway=gateway, order_id=order_id, config=config)
    return order_id


def issue(session, config, order_id, amount, key="desk-1", now=None):
    return issue_voucher(
        session=session, order_id=order_id, amount_fen=amount, idempotency_key=key,
        actor="user:desk", reason="cold rice", config=config, now=now,
    )  # fmt: skip


def with_code(request: OrderRequest, code: str | None) -> OrderRequest:
    return OrderRequest(
        user_id=request.user_id, merchant_id=request.merchant_id, items=request.items,
        address=request.address, idempotency_key=request.idempotency_key,
        expected_total_fen=request.expected_total_fen, note=request.note, voucher_code=code,
    )  # fmt: skip


def voucher(session, voucher_id) -> Voucher:
    session.expire_all()
    found = session.get(Voucher, voucher_id)
    session.expunge(found)
    session.rollback()
    return found


def order(session, order_id) -> Order:
    session.expire_all()
    found = session.get(Order, order_id)
    session.expunge(found)
    session.rollback()
    return found


def envelopes(session, kind=None):
    found = [
        e.envelope()
        for e in ledger.entries(session, 0, ledger.tree_size(session))
        if kind is None or e.type == kind
    ]
    session.rollback()
    return found


def count(session, table) -> int:
    n = session.exec(select(func.count()).select_from(table)).one()
    session.rollback()
    return int(n)


def verify(session, app):
    session.rollback()
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(session.get_bind()) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    return report.problem


# --------------------------------------------------------------------------- issue


def test_a_voucher_is_issued_once_per_key_to_the_orders_customer(session, campus, config, gateway):
    source = paid_order(session, campus, config, gateway)
    now = utcnow()
    first = issue(session, config, source, 1000, now=now)
    assert first.created and re.fullmatch(r"V[0-9A-HJKMNP-TV-Z]{10}", first.code)
    assert (first.user_id, first.amount_fen, first.balance_fen) == (
        campus.users["student"], 1000, 1000,
    )  # fmt: skip
    assert first.expires_at == now + timedelta(days=config.voucher_valid_days) and (
        config.voucher_valid_days == 90
    )
    again = issue(session, config, source, 1000)
    assert not again.created and (again.voucher_id, again.code) == (first.voucher_id, first.code)
    assert count(session, Voucher) == 1
    issued = envelopes(session, "orders.voucher_issued")
    assert len(issued) == 1
    assert issued[0]["subject"] == {
        "voucher": first.voucher_id, "order": source, "user": campus.users["student"],
    }  # fmt: skip
    assert issued[0]["payload"]["amount_fen"] == 1000
    assert voucher(session, first.voucher_id).ledger_index is not None


def test_a_key_reused_for_another_amount_or_order_is_a_conflict(session, campus, config, gateway):
    source = paid_order(session, campus, config, gateway)
    other = paid_order(session, campus, config, gateway, key="other")
    issue(session, config, source, 1000)
    with pytest.raises(errors.VoucherConflict) as amount:
        issue(session, config, source, 1200)
    assert amount.value.field == "idempotency_key" and "1000 fen" in str(amount.value)
    with pytest.raises(errors.VoucherConflict):
        issue(session, config, other, 1000)
    assert count(session, Voucher) == 1
    assert len(envelopes(session, "orders.voucher_issued")) == 1


@pytest.mark.parametrize(
    ("amount", "field"), [(0, "amount_fen"), (-5, "amount_fen"), (10**9 + 1, "amount_fen")]
)
def test_an_amount_out_of_range_is_refused(session, campus, config, gateway, amount, field):
    source = paid_order(session, campus, config, gateway)
    with pytest.raises(errors.VoucherError) as refused:
        issue(session, config, source, amount)
    assert refused.value.field == field
    assert count(session, Voucher) == 0


def test_only_a_paid_order_earns_a_voucher(session, campus, config, gateway):
    unpaid = placement.place_order(
        session=session, request=campus.request(key="unpaid"), config=config
    ).order_id
    with pytest.raises(errors.VoucherError) as refused:
        issue(session, config, unpaid, 500)
    assert refused.value.field == "order_id" and "pending" in str(refused.value)
    with pytest.raises(errors.NotFound):
        issue(session, config, 999_999, 500, key="nobody")
    assert count(session, Voucher) == 0


# --------------------------------------------------------------------------- redeem


def test_a_voucher_pays_part_of_an_order_and_the_rest_is_charged(
    session, engine, campus, config, gateway
):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, 1000)
    request = with_code(campus.request(key="spend"), v.code.lower())  # typed in lower case
    placed = placement.place_order(session=session, request=request, config=config)
    assert (placed.total_fen, placed.discount_fen, placed.voucher_id) == (2000, 1000, v.voucher_id)
    row = order(session, placed.order_id)
    assert (row.total_fen, row.discount_fen, row.voucher_id) == (2000, 1000, v.voucher_id)
    assert voucher(session, v.voucher_id).balance_fen == 0
    assert billing.pay_order(
        session=session, gateway=gateway, order_id=placed.order_id, config=config
    ) == "paid"  # fmt: skip
    charged = session.exec(
        select(SimCharge.amount_fen).where(SimCharge.reference == payment_reference(row.id))
    ).one()
    session.rollback()
    assert charged == 2000
    redeemed = envelopes(session, "orders.voucher_redeemed")
    assert [e["payload"] for e in redeemed] == [
        {"order_id": placed.order_id, "discount_fen": 1000, "balance_fen": 0}
    ]
    placed_entry = ledger.entry_at(session, row.placed_index).envelope()
    session.rollback()
    assert placed_entry["payload"]["discount_fen"] == 1000
    assert placed_entry["payload"]["total_fen"] == 2000


def test_an_order_a_voucher_covers_is_paid_without_the_gateway(
    session, engine, campus, config, gateway
):
    source = paid_order(session, campus, config, gateway)
    before = charge_count(engine)
    v = issue(session, config, source, 5000)
    placed = placement.place_order(
        session=session, request=with_code(campus.request(key="free"), v.code), config=config
    )
    assert (placed.total_fen, placed.discount_fen) == (0, 3000)
    status = billing.pay_order(
        session=session, gateway=gateway, order_id=placed.order_id, config=config
    )
    assert status == "paid" and charge_count(engine) == before
    assert voucher(session, v.voucher_id).balance_fen == 2000
    paid = order(session, placed.order_id)
    assert paid.paid_at is not None and paid.gateway_charge_id is None


def test_the_request_digest_names_the_voucher_only_when_there_is_one(campus):
    plain = checkout.normalised(campus.request(key="d"), max_quantity=20, max_lines=20)
    body = {
        "merchant_id": plain.merchant_id,
        "items": [[i.menu_item_id, i.quantity, i.unit_price_fen] for i in plain.items],
        "address": [plain.address.building, plain.address.room, plain.address.phone],
        "expected_total_fen": None,
        "note": "",
    }  # the body before vouchers existed: keys and replays of old orders still match
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert checkout.request_digest(plain) == hashlib.sha256(data.encode()).hexdigest()
    coded = checkout.normalised(
        with_code(campus.request(key="d"), " v0o1-il 2345 6 "), max_quantity=20, max_lines=20
    )
    assert coded.voucher_code == "V0011123456"  # typed loosely: case, spaces, dashes, O/I/L
    assert checkout.request_digest(coded) != checkout.request_digest(plain)
    with pytest.raises(errors.InvalidOrder) as bad:
        checkout.normalised(
            with_code(campus.request(key="d"), "free lunch"), max_quantity=20, max_lines=20
        )
    assert bad.value.field == "voucher_code"


def _refused_cases(session, campus, config, gateway):
    source = paid_order(session, campus, config, gateway)
    mine = issue(session, config, source, 1000, key="mine")
    expired = issue(session, config, source, 1000, key="old", now=utcnow() - timedelta(days=91))
    spent = issue(session, config, source, 100, key="spent")
    placement.place_order(
        session=session, request=with_code(campus.request(key="spend-all"), spent.code),
        config=config,
    )  # fmt: skip
    theirs = issue(
        session, config, paid_order(session, campus, config, gateway, "s2", "student2"),
        1000, key="theirs",
    )  # fmt: skip
    return {
        "unknown": ("V" + "0" * 10, errors.UnknownVoucher),
        "another student's": (theirs.code, errors.UnknownVoucher),
        "expired": (expired.code, errors.VoucherUnusable),
        "spent": (spent.code, errors.VoucherUnusable),
    }, mine


@pytest.mark.parametrize("case", ["unknown", "another student's", "expired", "spent"])
def test_a_voucher_that_cannot_pay_is_refused_naming_the_field_and_nothing_is_written(
    session, campus, config, gateway, case
):
    cases, _ = _refused_cases(session, campus, config, gateway)
    code, error = cases[case]
    orders, size = count(session, Order), ledger.tree_size(session)
    balances = dict(session.exec(select(Voucher.id, Voucher.balance_fen)).all())
    allocated = dict(session.exec(select(MenuBatch.id, MenuBatch.allocated)).all())
    session.rollback()
    with pytest.raises(error) as refused:
        placement.place_order(
            session=session, request=with_code(campus.request(key="try"), code), config=config
        )
    assert refused.value.field == "voucher_code"
    assert (count(session, Order), ledger.tree_size(session)) == (orders, size)
    assert dict(session.exec(select(Voucher.id, Voucher.balance_fen)).all()) == balances
    assert dict(session.exec(select(MenuBatch.id, MenuBatch.allocated)).all()) == allocated
    session.rollback()


def test_a_batch_without_codes_runs_no_voucher_query(session, engine, campus, config, gateway):
    from sqlalchemy import event

    source = paid_order(session, campus, config, gateway)
    issue(session, config, source, 1000)  # a voucher exists, nobody names it
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = placement.write_batch(
            session=session,
            requests=[campus.request(key=k) for k in ("p", "q")],
            outcomes=[placement.PaymentOutcome(source, "paid")],
            config=config,
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert all(isinstance(p, placement.Placed) for p in result.placed)
    assert seen and not [q for q in seen if "order_vouchers" in q]


def test_two_orders_of_one_batch_never_spend_more_than_the_balance(
    session, campus, config, gateway
):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, 4000)
    result = placement.write_batch(
        session=session,
        requests=[with_code(campus.request(key=k), v.code) for k in ("a", "b", "c")],
        config=config,
    )
    first, second, third = result.placed
    assert (first.total_fen, first.discount_fen) == (0, 3000)
    assert (second.total_fen, second.discount_fen) == (2000, 1000)
    assert isinstance(third, errors.VoucherUnusable) and third.field == "voucher_code"
    assert voucher(session, v.voucher_id).balance_fen == 0
    balances = [e["payload"]["balance_fen"] for e in envelopes(session, "orders.voucher_redeemed")]
    assert balances == [1000, 0]
    assert count(session, Order) == 3  # the source and two


def test_an_order_refused_for_stock_does_not_spend_the_voucher(session, campus, config, gateway):
    source = paid_order(session, campus, config, gateway)  # 2 of the 15 rice portions
    v = issue(session, config, source, 3000)
    greedy = with_code(campus.request(key="greedy", items=((campus.rice, 14),)), v.code)
    modest = with_code(campus.request(key="modest", items=((campus.rice, 2),)), v.code)
    sold_out, placed = placement.write_batch(
        session=session, requests=[greedy, modest], config=config
    ).placed
    assert isinstance(sold_out, errors.SoldOut)
    assert (placed.total_fen, placed.discount_fen) == (0, 3000)


# --------------------------------------------------------------------------- give back


def test_a_failed_payment_gives_the_discount_back_once(session, campus, config, gateway):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, 1000)
    set_gateway_mode(session=session, mode="failing", actor="test")
    placed = placement.place_order(
        session=session, request=with_code(campus.request(key="declined"), v.code), config=config
    )
    assert voucher(session, v.voucher_id).balance_fen == 0
    status = billing.pay_order(
        session=session, gateway=gateway, order_id=placed.order_id, config=config
    )
    assert status == "failed"
    cancelled = order(session, placed.order_id)
    assert cancelled.status == "cancelled" and cancelled.voucher_restored_at is not None
    assert voucher(session, v.voucher_id).balance_fen == 1000
    # the sweep and later passes find nothing more to give back
    assert vouchers.restore_vouchers(session) == 0
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert voucher(session, v.voucher_id).balance_fen == 1000
    restored = envelopes(session, "orders.voucher_restored")
    assert [e["payload"]["restored_fen"] for e in restored] == [1000]
    # and it can be spent again
    again = placement.place_order(
        session=session, request=with_code(campus.request(key="again"), v.code), config=config
    )
    assert again.discount_fen == 1000


@pytest.mark.parametrize(("amount", "refund"), [(5000, 0), (1000, 2000)])
def test_a_rejected_order_gives_the_discount_back_once_and_refunds_the_money(
    session, campus, config, gateway, amount, refund
):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, amount)
    placed = placement.place_order(
        session=session, request=with_code(campus.request(key="to-reject"), v.code), config=config
    )
    assert billing.pay_order(
        session=session, gateway=gateway, order_id=placed.order_id, config=config
    ) == "paid"  # fmt: skip
    fulfilment.reject(
        session=session, actor=campus.actor("merchant"), order_id=placed.order_id,
        reason="out of rice",
    )  # fmt: skip
    assert voucher(session, v.voucher_id).balance_fen == amount
    billing.refund_rejected(session=session, gateway=gateway, config=config)
    billing.reconcile_payments(
        session=session, gateway=gateway, config=config, now=utcnow() + LATER
    )
    assert voucher(session, v.voucher_id).balance_fen == amount
    assert len(envelopes(session, "orders.voucher_restored")) == 1
    refunds = session.exec(
        select(Refund.amount_fen).where(Refund.order_id == placed.order_id)
    ).all()
    session.rollback()
    assert sum(refunds) == refund  # the money part only; the voucher part went back on it


def test_the_sweep_gives_back_what_was_left_behind_once(
    session, campus, config, gateway, monkeypatch
):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, 1000)
    placed = placement.place_order(
        session=session, request=with_code(campus.request(key="left"), v.code), config=config
    )
    billing.pay_order(session=session, gateway=gateway, order_id=placed.order_id, config=config)
    with monkeypatch.context() as m:  # as if the process died before giving it back
        m.setattr(vouchers, "needs_restore", lambda *_a: False)
        fulfilment.reject(
            session=session, actor=campus.actor("merchant"), order_id=placed.order_id,
            reason="closed",
        )  # fmt: skip
    assert voucher(session, v.voucher_id).balance_fen == 0
    assert vouchers.restore_vouchers(session) == 1
    assert vouchers.restore_vouchers(session) == 0
    assert voucher(session, v.voucher_id).balance_fen == 1000
    assert order(session, placed.order_id).voucher_restored_at is not None


# --------------------------------------------------------------------------- the ledger


def test_the_ledger_re_derives_vouchers_and_orders_and_names_a_forged_balance(
    session, campus, config, gateway, app, monkeypatch
):
    source = paid_order(session, campus, config, gateway)
    v = issue(session, config, source, 4000)
    a, b = placement.write_batch(
        session=session,
        requests=[with_code(campus.request(key=k), v.code) for k in ("a", "b")],
        config=config,
    ).placed
    for placed in (a, b):
        billing.pay_order(session=session, gateway=gateway, order_id=placed.order_id, config=config)
    fulfilment.reject(
        session=session, actor=campus.actor("merchant"), order_id=a.order_id, reason="x"
    )
    set_gateway_mode(session=session, mode="failing", actor="test")
    bigger = campus.request(key="c", items=((campus.rice, 2), (campus.salad, 2)))  # 4800
    c = placement.place_order(session=session, request=with_code(bigger, v.code), config=config)
    assert (c.discount_fen, c.total_fen) == (3000, 1800)
    billing.pay_order(session=session, gateway=gateway, order_id=c.order_id, config=config)
    assert order(session, c.order_id).status == "cancelled"
    assert voucher(session, v.voucher_id).balance_fen == 3000  # 4000 - 1000 (b)
    assert verify(session, app) is None
    session.execute(
        update(Voucher).where(col(Voucher.id) == v.voucher_id).values(balance_fen=999_999)
    )
    session.commit()
    problem = verify(session, app)
    assert problem is not None and problem.table == "order_vouchers"


@pytest.mark.postgres
def test_orders_from_many_sessions_at_once_never_overspend_a_voucher(pg_engine, config):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from orders.gateway_sim import SimulatedGateway
    from tests.orders.conftest import build_campus

    with Session(pg_engine, expire_on_commit=False) as s:
        campus = build_campus(s)
        gateway = SimulatedGateway(pg_engine, sleep=lambda _s: None)
        v = issue(s, config, paid_order(s, campus, config, gateway), 4000)
    barrier = Barrier(6)

    def place(i):
        barrier.wait()  # all at once, each in its own session (as separate processes would)
        with Session(pg_engine) as s:
            request = with_code(campus.request(key=f"k{i}", items=((campus.rice, 1),)), v.code)
            try:
                return placement.place_order(session=s, request=request, config=config)
            except errors.OrderError as exc:
                return exc

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(place, range(6)))
    placed = [r for r in results if isinstance(r, placement.Placed)]
    assert sorted(p.discount_fen for p in placed) == [1000, 1500, 1500]  # 1500 a rice
    assert all(isinstance(r, errors.VoucherUnusable) for r in results if r not in placed)
    with Session(pg_engine) as s:
        assert s.get(Voucher, v.voucher_id).balance_fen == 0
