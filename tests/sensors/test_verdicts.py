# ruff: noqa: F811  (pytest fixtures imported from tests.reports.conftest)
"""Stored verdicts of finished deliveries: the judge-finished task and CLI, late readings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select

from columns import utcnow
from orders.models import Delivery
from sensors import coldchain, ingest, service, tasks, verdicts
from sensors.models import StoredVerdict
from sensors.profiles import load_profiles
from sensors.readings import parse_json_readings
from tests.reports.conftest import (  # noqa: F401  (the seeded campus: orders, boxes, readings)
    app,
    engine,
    migrated_sqlite,
    seeded_sqlite,
    shared_app,
)

PROFILES = tuple(sorted(load_profiles()))  # GB 31654 and the FDA Food Code


def finished(s: Session) -> list[Delivery]:
    stmt = select(Delivery).where(
        col(Delivery.box_id).is_not(None), col(Delivery.dropped_off_at).is_not(None)
    )
    return list(s.exec(stmt.order_by(col(Delivery.id))).all())


def stored(s: Session) -> dict[tuple[int, str], StoredVerdict]:
    """The stored rows now, as detached copies (later reads do not change them)."""
    s.expire_all()
    rows = s.exec(select(StoredVerdict)).all()
    return {(v.delivery_id, v.profile): StoredVerdict.model_validate(v) for v in rows}


def one_by_one(s: Session, d: Delivery, profile: str, now=None):  # type: ignore[no-untyped-def]
    assert d.box_id is not None and d.picked_up_at is not None
    return coldchain.judge_window(
        session=s,
        box_id=d.box_id,
        pickup_at=d.picked_up_at,
        dropoff_at=d.dropped_off_at,
        food_class=d.food_class,
        profile=profile,
        now=now,
    )


def late_reading(s: Session, box_id: str, at, celsius: float) -> None:  # type: ignore[no-untyped-def]
    device = s.exec(select(service.Device).where(service.Device.box_id == box_id)).one()
    parsed = parse_json_readings(
        [{"time": at.isoformat(), "value": celsius, "unit": "CEL"}], now=utcnow()
    )
    ingest.ingest(session=s, device=device, parsed=parsed, channel="http")


def test_verdicts_of_finished_deliveries_are_stored_for_every_profile_once(engine):
    with Session(engine, expire_on_commit=False) as s:
        done = finished(s)
        assert len(done) >= 5
        written = verdicts.judge_finished(session=s)
        assert written == len(done) * len(PROFILES)
        rows = stored(s)
        assert set(rows) == {(d.id, p) for d in done for p in PROFILES}
        for d in done:
            for profile in PROFILES:
                one = one_by_one(s, d, profile)
                row = rows[(d.id, profile)]
                assert (row.verdict, row.n_readings) == (one.verdict, one.n_readings)
                assert row.minutes_outside == pytest.approx(one.minutes_outside)
        assert {r.verdict for r in rows.values()} >= {"pass", "fail"}
        assert verdicts.judge_finished(session=s) == 0  # nothing left: idempotent


def test_deliveries_still_on_the_road_or_settling_get_no_verdict(engine):
    with Session(engine, expire_on_commit=False) as s:
        done = finished(s)
        last = max(done, key=lambda d: d.dropped_off_at)  # type: ignore[arg-type,return-value]
        assert last.dropped_off_at is not None
        verdicts.judge_finished(session=s, now=last.dropped_off_at + timedelta(minutes=5))
        ids = {i for i, _ in stored(s)}
        assert last.id not in ids and len(ids) == len(done) - 1
        on_road = s.exec(
            select(Delivery).where(
                col(Delivery.picked_up_at).is_not(None), col(Delivery.dropped_off_at).is_(None)
            )
        ).all()
        assert on_road and not ids & {d.id for d in on_road}


def test_a_late_reading_marks_its_windows_verdicts_stale_and_the_next_run_rejudges_them(engine):
    with Session(engine, expire_on_commit=False) as s:
        verdicts.judge_finished(session=s)
        target = next(d for d in finished(s) if d.box_id == "BOX-002")
        before = stored(s)
        assert target.picked_up_at is not None
        at = target.picked_up_at + timedelta(minutes=3, seconds=30)  # between two readings
        late_reading(s, "BOX-002", at, 30.0)
        after = stored(s)
        stale = {k for k, v in after.items() if v.verdict == verdicts.STALE}
        assert stale == {(target.id, p) for p in PROFILES}
        assert all(after[k].verdict == before[k].verdict for k in set(after) - stale)

        assert verdicts.judge_finished(session=s) == len(PROFILES)
        again = stored(s)
        for profile in PROFILES:
            row = again[(target.id, profile)]
            one = one_by_one(s, target, profile)
            assert row.verdict == one.verdict != verdicts.STALE
            assert row.n_readings == before[(target.id, profile)].n_readings + 1
            assert row.max_c == 30.0


def test_readings_newer_than_the_settle_time_cost_no_verdict_query(engine):
    with Session(engine, expire_on_commit=False) as s:
        verdicts.judge_finished(session=s)
        seen: list[str] = []

        def spy(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", spy)
        try:
            late_reading(s, "BOX-002", utcnow() - timedelta(minutes=2), 30.0)
        finally:
            event.remove(engine, "before_cursor_execute", spy)
        assert seen and not [q for q in seen if "delivery_verdicts" in q]
        assert verdicts.STALE not in {v.verdict for v in stored(s).values()}


def test_the_task_looks_back_two_days_and_the_cli_judges_every_finished_delivery(
    engine, runner, app
):
    with Session(engine, expire_on_commit=False) as s:
        n = len(finished(s))
        later = utcnow() + timedelta(days=3)  # every seeded order is now older than LOOKBACK
        assert verdicts.judge_finished(session=s, now=later) == 0
    result = runner.invoke(args=["sensors", "judge-finished"])
    assert result.exit_code == 0, result.output
    assert f"stored {n * len(PROFILES)} verdicts" in result.output
    with Session(engine, expire_on_commit=False) as s:
        assert len(stored(s)) == n * len(PROFILES)


def test_the_celery_task_stores_the_verdicts_within_its_limit(engine, app):
    with Session(engine, expire_on_commit=False) as s:
        n = len(finished(s))
    assert tasks.judge_finished.apply(kwargs={"limit": 2}).get() == 2 * len(PROFILES)
    assert tasks.judge_finished.apply().get() == (n - 2) * len(PROFILES)
    with Session(engine, expire_on_commit=False) as s:
        assert len(stored(s)) == n * len(PROFILES)


def test_a_settle_time_shorter_than_the_ingest_guard_is_refused(engine, runner):
    with Session(engine, expire_on_commit=False) as s, pytest.raises(ValueError):
        verdicts.judge_finished(session=s, settle=timedelta(minutes=1))
    result = runner.invoke(args=["sensors", "judge-finished", "--settle-minutes", "1"])
    assert result.exit_code != 0 and "settle" in result.output
