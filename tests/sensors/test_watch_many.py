"""The cold chain's bulk watch (coldchain.watch_many) writes what watch_delivery + end_watch
write, one delivery after the other: the same rows and entries, in one append."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

import ledger
from sensors import coldchain
from sensors.models import Watch

T0 = datetime(2025, 3, 1, 11, 0, tzinfo=UTC)
FIELDS = ("box_id", "merchant_id", "food_class", "pickup_at", "dropoff_at")


def spans(first: int) -> list[coldchain.Span]:
    return [
        coldchain.Span(
            delivery_id=first + n, box_id=f"BOX-{n % 2}",
            food_class=("cold", "hot", "frozen")[n % 3],
            merchant_id=None if n == 2 else 7, pickup_at=T0 + timedelta(minutes=n),
            dropoff_at=None if n == 3 else T0 + timedelta(minutes=20 + n), actor=f"user:{40 + n}",
        )
        for n in range(5)
    ]  # fmt: skip


def envelopes(session, start: int, stop: int, shift: int) -> list[dict]:
    out = []
    for entry in ledger.entries(session, start, stop):
        env = json.loads(entry.data)
        del env["ts"]  # the append time (wall clock) on both paths
        env["subject"]["delivery"] -= shift
        out.append(env)
    return out


def test_watch_many_writes_what_watch_and_end_write(session):
    start = ledger.tree_size(session)
    for s in spans(100):
        coldchain.watch_delivery(
            session=session, delivery_id=s.delivery_id, box_id=s.box_id,
            pickup_at=s.pickup_at, food_class=s.food_class, merchant_id=s.merchant_id,
            actor=s.actor,
        )  # fmt: skip
        if s.dropoff_at is not None:
            coldchain.end_watch(
                session=session, delivery_id=s.delivery_id, dropoff_at=s.dropoff_at, actor=s.actor
            )
    middle = ledger.tree_size(session)
    indexes = coldchain.watch_many(session=session, spans=spans(200))
    session.commit()
    end = ledger.tree_size(session)
    assert middle - start == end - middle == 9
    assert envelopes(session, middle, end, 200) == envelopes(session, start, middle, 100)
    for n in range(5):
        one, many = session.get(Watch, 100 + n), session.get(Watch, 200 + n)
        assert [getattr(many, f) for f in FIELDS] == [getattr(one, f) for f in FIELDS]
        assert many.ledger_index - middle == one.ledger_index - start == indexes[n] - middle
    assert session.get(Watch, 203).dropoff_at is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"box_id": "no spaces"}, "box_id"),
        ({"food_class": "lukewarm"}, "food_class"),
        ({"pickup_at": datetime(2025, 3, 1, 11, 0)}, "pickup_at"),  # naive
        ({"dropoff_at": T0 - timedelta(minutes=1)}, "dropoff_at"),
        ({"delivery_id": 300}, "delivery_id"),  # watched already
    ],
)
def test_a_refused_span_writes_nothing(session, change, field):
    coldchain.watch_many(session=session, spans=spans(300)[:1])
    session.commit()
    size = ledger.tree_size(session)
    bad = spans(301)
    last = bad[-1]
    bad[-1] = coldchain.Span(**{**{f: getattr(last, f) for f in last.__slots__}, **change})
    with pytest.raises((coldchain.WatchError, ValueError)) as caught:
        coldchain.watch_many(session=session, spans=bad)
    assert getattr(caught.value, "field", None) == field
    session.rollback()
    assert ledger.tree_size(session) == size
    assert len(session.exec(select(Watch)).all()) == 1


def test_a_delivery_watched_already_conflicts(session):
    coldchain.watch_many(session=session, spans=spans(400)[:2])
    session.commit()
    with pytest.raises(coldchain.WatchConflict):
        coldchain.watch_many(session=session, spans=spans(401)[:1])
