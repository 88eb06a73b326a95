"""Daily exposure roll-ups: rankings read through them equal all-raw rankings field by field
(ragged window edges, an order at midnight, a late cancellation, cases' own orders on rolled-up
days and outside the window); only settled days are rolled up; changed days are recomputed;
the task and the CLI roll up; investigate never writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from accounts import passwords
from complaints import exposure_rollups, investigation, service
from complaints.models import ExposureDay, ExposureRollupDay
from tests.complaints.world import NOW, World, add_order, build_world

passwords.use_cheap_parameters_for_tests()

MIDNIGHT = NOW.replace(hour=0, minute=0, second=0)
BASE = MIDNIGHT - timedelta(days=8)  # the world's days: BASE .. BASE + 7 days
DAY = timedelta(days=1)


def _open_case(session: Session, order: int, k: int) -> int:
    opened = service.open_case(
        session=session,
        data={
            "channel": "phone",
            "category": "illness",
            "description": f"Sick after lunch ({k})",
            "onset_at": NOW - timedelta(hours=10),
            "symptoms": ["diarrhoea"],
            "order_ids": [order],
            "complainant": {"name": f"Person {k}", "phone": f"1380000{k:04d}"},
        },
        actor="user:1",
    )
    assert opened.case.id is not None
    return opened.case.id


def _orders_over_days(session: Session, world: World) -> dict[str, list[int]]:
    """Eight days of orders at every merchant (salads and soups, some with the courier), one
    placed exactly at midnight; returns the ids by role."""
    students = iter(world.students)
    made: dict[str, list[int]] = {"all": [], "midnight": []}
    for d in range(8):
        for k, m in enumerate(world.merchants):
            for h, salad in ((9, True), (13, False), (19, k < 3)):
                item = world.items[f"salad{k}"] if salad and k < 3 else world.items[f"soup{k}"]
                batch = world.salad_batches[k] if salad and k < 3 else world.other_batches[k]
                order = add_order(
                    session, world, user=world.students[(d * 12 + k * 3 + h) % 60],
                    merchant=m, item=item, batch=batch, at=BASE + d * DAY + timedelta(hours=h),
                    courier=world.courier if (d + k + h) % 2 else None,
                )  # fmt: skip
                made["all"].append(order)
        at_midnight = add_order(
            session, world, user=next(students), merchant=world.merchants[3],
            item=world.items["soup3"], batch=world.other_batches[3], at=BASE + d * DAY,
        )  # fmt: skip
        made["all"].append(at_midnight)
        made["midnight"].append(at_midnight)
    session.commit()
    return made


@pytest.fixture
def days_world(session: Session) -> tuple[World, dict[str, list[int]], list[int]]:
    world = build_world(session, n_students=60)
    orders = _orders_over_days(session, world)
    # cases: salad eaters on rolled-up days, one on an unsettled day, one long before any window
    salads = [o for i, o in enumerate(orders["all"]) if i % 3 == 0][:12]
    early = add_order(
        session, world, user=world.students[0], merchant=world.merchants[0],
        item=world.items["salad0"], batch=world.salad_batches[0], at=BASE - 20 * DAY,
    )  # fmt: skip
    session.commit()
    cases = [_open_case(session, o, k) for k, o in enumerate([*salads, orders["all"][-5], early])]
    return world, orders, cases


def _clear(session: Session) -> None:
    session.execute(sa.delete(ExposureDay))
    session.execute(sa.delete(ExposureRollupDay))
    session.commit()


def _ranking(session: Session, cases: list[int], since: datetime, until: datetime) -> str:
    result = investigation.investigate(
        session=session, case_ids=cases, since=since, until=until, limit=1000
    )
    return json.dumps(result.as_dict(), sort_keys=True)


WINDOWS = [
    (BASE + timedelta(hours=5), BASE + 6 * DAY + timedelta(hours=7)),  # ragged both ends
    (BASE + DAY, BASE + 4 * DAY),  # whole days; `until` is a midnight with an order on it
    (BASE - DAY, NOW),  # beyond the data, unsettled days at the end
    (BASE + 2 * DAY + timedelta(seconds=1), BASE + 2 * DAY + timedelta(hours=15)),  # no full day
    (BASE + 3 * DAY, BASE + 3 * DAY),  # an instant: the midnight order alone
]


def _raw_then_rolled(session: Session, cases: list[int]) -> tuple[list[str], list[str]]:
    _clear(session)
    raw = [_ranking(session, cases, *w) for w in WINDOWS]
    exposure_rollups.roll_up(session=session, now=NOW, max_days=None)
    rolled = [_ranking(session, cases, *w) for w in WINDOWS]
    return raw, rolled


def test_rankings_through_roll_ups_equal_all_raw_rankings_field_by_field(session, days_world):
    _world, _orders, cases = days_world
    raw, rolled = _raw_then_rolled(session, cases)
    plan = exposure_rollups.plan_window(session.connection(), *WINDOWS[0])
    assert len(plan.days) == 5  # the comparison really went through roll-ups
    session.rollback()
    for window, expected, got in zip(WINDOWS, raw, rolled, strict=True):
        assert json.loads(got) == json.loads(expected), window
        assert got == expected, window
    assert (
        json.loads(raw[4])["cohort"]["orders"] == 1 + 14
    )  # the midnight order + the cases' orders


def test_a_late_cancellation_on_a_rolled_up_day_reads_that_day_raw_until_recomputed(
    session, days_world
):
    _world, orders, cases = days_world
    exposure_rollups.roll_up(session=session, now=NOW, max_days=None)
    cancelled_day = BASE + 2 * DAY
    for victim in (orders["all"][2 * 13 + 1], orders["all"][0]):  # a healthy order, a case's
        session.execute(
            sa.text("UPDATE orders SET status = 'cancelled' WHERE id = :o"), {"o": victim}
        )
    session.commit()
    plan = exposure_rollups.plan_window(session.connection(), *WINDOWS[0])
    assert cancelled_day.date() not in plan.days and len(plan.days) == 4
    session.rollback()
    with_stale = [_ranking(session, cases, *w) for w in WINDOWS]
    assert exposure_rollups.days_due(session.connection(), now=NOW) == sorted(
        {BASE.date(), cancelled_day.date()}
    )
    session.rollback()
    assert exposure_rollups.roll_up(session=session, now=NOW) == sorted(
        {BASE.date(), cancelled_day.date()}
    )
    recomputed = [_ranking(session, cases, *w) for w in WINDOWS]
    _clear(session)
    raw = [_ranking(session, cases, *w) for w in WINDOWS]
    assert with_stale == raw
    assert recomputed == raw


def test_only_settled_days_are_rolled_up_and_a_run_is_bounded(session, days_world):
    now = MIDNIGHT - timedelta(hours=1)  # BASE + 7 d is today - 1: it ended 23 h ago
    first = exposure_rollups.roll_up(session=session, now=now, max_days=3)
    assert first == [(BASE - 20 * DAY).date(), BASE.date(), (BASE + DAY).date()]
    rest = exposure_rollups.roll_up(session=session, now=now, max_days=None)
    # settled: ended ≥ 48 h before `now`: BASE + 4 d ended 71 h before it, BASE + 5 d 47 h
    assert rest == [(BASE + k * DAY).date() for k in range(2, 5)]
    assert exposure_rollups.roll_up(session=session, now=now, max_days=None) == []
    stored = dict(
        session.execute(sa.select(ExposureRollupDay.day, ExposureRollupDay.n_orders)).all()
    )
    assert stored[(BASE + 3 * DAY).date()] == 13  # 12 orders and the one at midnight


def test_a_rolled_up_day_counts_each_candidate_once_per_order(session, days_world):
    world, _orders, _cases = days_world
    day = (BASE + 3 * DAY).date()
    n_orders, rows = exposure_rollups.roll_up_day(session.connection(), day)
    session.rollback()
    counts = {(r["kind"], r["ref"]): r["orders"] for r in rows}
    assert n_orders == 13
    assert counts[("merchant", world.merchants[3])] == 4  # three orders and the midnight one
    assert counts[("lot", world.lettuce_lot)] == 6  # salads at A, B and C, at 9 h and 19 h
    assert counts[("courier", world.courier)] == sum(
        1 for k in range(4) for h in (9, 13, 19) if (3 + k + h) % 2
    )


def test_investigate_writes_nothing(session, days_world):
    _world, _orders, cases = days_world
    before = session.execute(sa.select(sa.func.count()).select_from(ExposureRollupDay)).scalar()
    _ranking(session, cases, *WINDOWS[2])
    after = session.execute(sa.select(sa.func.count()).select_from(ExposureRollupDay)).scalar()
    assert before == after == 0


def test_the_task_rolls_up_settled_days_and_a_second_run_has_nothing_to_do(app):
    from app import engine_of, session_scope
    from complaints import tasks

    with session_scope(engine_of(app)) as s:
        world = build_world(s, n_students=4)
        for d in range(4):
            add_order(
                s, world, user=world.students[d], merchant=world.merchants[0],
                item=world.items["salad0"], batch=world.salad_batches[0],
                at=MIDNIGHT - (d + 3) * DAY + timedelta(hours=12),
            )  # fmt: skip
        s.commit()
    assert [tasks.roll_up_exposures.apply().get() for _ in range(2)] == [4, 0]


def test_the_cli_rolls_up_every_settled_day_before_the_given_now(app, runner):
    from app import engine_of, session_scope

    with session_scope(engine_of(app)) as s:
        world = build_world(s, n_students=4)
        for d in range(4):
            add_order(
                s, world, user=world.students[d], merchant=world.merchants[1],
                item=world.items["soup1"], batch=world.other_batches[1],
                at=datetime(2026, 3, 1 + d, 12, tzinfo=UTC),
            )  # fmt: skip
        s.commit()
    out = runner.invoke(args=["complaints", "roll-up-exposures", "--now", "2026-03-05T00:00:00"])
    assert out.exit_code == 0, out.output
    assert "rolled up 2026-03-01" in out.output and "2 days rolled up" in out.output
    again = runner.invoke(args=["complaints", "roll-up-exposures", "--horizon-hours", "0"])
    assert again.exit_code == 0, again.output
    assert "2 days rolled up" in again.output  # 2026-03-03 and -04, no longer recent


def test_the_horizon_comes_from_the_app_config():
    assert exposure_rollups.horizon_from({}) == timedelta(hours=48)
    assert exposure_rollups.horizon_from({exposure_rollups.HORIZON_KEY: "6"}) == timedelta(hours=6)
    with pytest.raises(ValueError, match="HORIZON"):
        exposure_rollups.horizon_from({exposure_rollups.HORIZON_KEY: "-1"})


def test_the_freshness_count_and_its_index_name_the_not_eaten_statuses_of_exposures():
    from pathlib import Path

    from complaints import exposures

    listed = ", ".join(f"'{s}'" for s in exposures.NOT_EATEN)
    migration = Path(__file__).parents[2] / "migrations/versions/0010_exposure_rollups.py"
    assert f"status IN ({listed})" in exposure_rollups._DAY_COUNT
    assert f"status IN ({listed})" in migration.read_text()
