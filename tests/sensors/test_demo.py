"""Demo data: devices in boxes, a day of readings with excursions, seeded once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from sensors import coldchain, demo, proofs

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_demo_seed_is_idempotent_and_shows_excursions(session):
    demo.seed(session=session, now=NOW)
    first = session.connection().execute(text("SELECT count(*) FROM sensor_readings")).scalar_one()
    demo.seed(session=session, now=NOW + timedelta(hours=1))
    again = session.connection().execute(text("SELECT count(*) FROM sensor_readings")).scalar_one()
    assert first == again == 3 * 24 * 60 - 12  # BOX-002 misses 12 minutes
    day = NOW - timedelta(days=1)
    hot = coldchain.judge_window(
        session=session,
        box_id="BOX-001",
        pickup_at=day,
        dropoff_at=NOW,
        food_class="hot",
        profile="gb31654",
    )
    cold = coldchain.judge_window(
        session=session,
        box_id="BOX-002",
        pickup_at=day,
        dropoff_at=NOW,
        food_class="cold",
        profile="gb31654",
    )
    assert len(hot.excursions) == 2 and hot.min_c < 60
    assert len(cold.excursions) == 1 and len(cold.gaps) == 1
    assert proofs.verify_batches(session=session).ok
