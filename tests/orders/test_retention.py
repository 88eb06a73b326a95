"""Retention: old orders keep everything but the student's personal data; the log verifies."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

import ledger
from columns import utcnow
from orders import billing, placement, retention
from orders.models import Order


def test_old_orders_lose_only_their_personal_fields_and_the_log_still_verifies(
    session, engine, campus, config, gateway, app
):
    old = (
        placement.write_batch(
            session=session,
            requests=[campus.request(key="old")],
            config=config,
            now=utcnow() - timedelta(days=200),
        )
        .placed[0]
        .order_id
    )
    new = placement.place_order(session=session, request=campus.request(key="new"), config=config)
    billing.pay_order(session=session, gateway=gateway, order_id=old, config=config)
    placed_index = session.get(Order, old).placed_index
    assert ledger.salts_of(session, [placed_index])
    erased = retention.erase_expired_personal_data(session=session, retention_days=183)
    assert erased == 1
    assert retention.erase_expired_personal_data(session=session, retention_days=183) == 0
    session.expire_all()
    gone, kept = session.get(Order, old), session.get(Order, new.order_id)
    assert (gone.building, gone.room, gone.phone, gone.note) == ("", "", "", "")
    assert gone.personal_erased_at is not None
    assert (gone.total_fen, gone.payment_status, gone.user_id) == (
        kept.total_fen,
        "paid",
        kept.user_id,
    )
    assert kept.building == "North Dorm 3"
    assert ledger.salts_of(session, [placed_index]) == {}
    assert len(session.exec(select(Order)).all()) == 2  # nothing deleted
    session.rollback()
    projections = app.extensions["foodtrace"].extras["projections"]
    with Session(engine) as fresh:
        report = ledger.verify(fresh, projections=projections)
        fresh.rollback()
    assert report.problem is None


def test_the_retention_period_is_never_shorter_than_a_day(session):
    import pytest

    with pytest.raises(ValueError):
        retention.erase_expired_personal_data(session=session, retention_days=0)
