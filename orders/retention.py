"""Retention: orders are kept; the students' personal data in them is erased after the period.

Online catering rules require each order's food, time, courier and address for at least six
months (orders/order_rules.json). Past that, `erase_expired_personal_data` blanks the delivery
address, phone and note of old orders and deletes the salts of the entries that digested them
(`ledger.erase_personal_data`), in one transaction with an `orders.personal_data_erased` entry
per order. Orders, lines, deliveries and every ledger entry stay: nothing is ever deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

import ledger
from columns import utcnow
from orders.models import PERSONAL_ERASED, Order

ACTOR = "system:retention"


def erase_expired_personal_data(
    *, session: Session, retention_days: int, now: datetime | None = None, limit: int = 1000
) -> int:
    """Erase the personal fields of up to `limit` orders older than the retention period;
    returns how many orders were erased (call again until it returns 0)."""
    if retention_days < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=retention_days)
    rows = session.exec(
        select(Order.id, Order.placed_index)
        .where(col(Order.created_at) < cutoff, col(Order.personal_erased_at).is_(None))
        .order_by(col(Order.id))
        .limit(limit)
    ).all()
    if not rows:
        session.rollback()
        return 0
    blank: dict[str, object] = {"building": "", "room": "", "phone": "", "note": ""}
    blank["personal_erased_at"] = now
    events = [
        ledger.Event(PERSONAL_ERASED, blank, actor=ACTOR, subject={"order": order_id}, ts=now)
        for order_id, _ in rows
    ]
    ledger.erase_personal_data(session, [i for _, i in rows if i is not None])
    entries = ledger.append_many(session, events)
    table = Order.__table__  # type: ignore[attr-defined]
    session.execute(
        update(table)
        .where(table.c.id == bindparam("order_id"))
        .values(**blank, ledger_index=bindparam("index")),
        [{"order_id": oid, "index": e.index} for (oid, _), e in zip(rows, entries, strict=True)],
    )
    session.commit()
    return len(rows)
