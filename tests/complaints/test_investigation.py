"""Source ranking: the planted cross-merchant lettuce lot comes first, the statistics match
scipy computed independently, zero cells are honest, and bad requests name their field."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from scipy.stats import fisher_exact
from scipy.stats.contingency import relative_risk

from accounts import passwords
from complaints import investigation, service
from tests.complaints.world import NOW, build_world, planted_outbreak

passwords.use_cheap_parameters_for_tests()


def open_cases(session, orders, onset=None):
    ids = []
    for k, order in enumerate(orders):
        opened = service.open_case(
            session=session,
            data={
                "channel": "phone",
                "category": "illness",
                "description": f"Sick after the salad ({k})",
                "onset_at": onset or NOW - timedelta(hours=10),
                "symptoms": ["diarrhoea"],
                "order_ids": [order],
                "complainant": {"name": f"Person {k}", "phone": f"1380000{k:04d}"},
            },
            actor="user:1",
        )
        ids.append(opened.case.id)
    return ids


@pytest.fixture
def outbreak(session):
    world = build_world(session)
    orders = planted_outbreak(session, world)
    return world, orders, open_cases(session, orders["ill"])


def test_the_planted_lot_shared_by_three_merchants_is_ranked_first(session, outbreak):
    world, _orders, case_ids = outbreak
    result = investigation.investigate(session=session, case_ids=case_ids, limit=100)
    top = result.candidates[0]
    assert (top.kind, top.id) == ("lot", str(world.lettuce_lot))
    assert "LET-w" in top.label
    assert (top.exposed_cases, top.exposed_total) == (9, 12)
    assert (top.unexposed_cases, top.unexposed_total) == (0, 16)
    assert top.relative_risk == math.inf and top.rr_ci95 == (None, None)
    assert top.cases_explained == 1.0
    assert result.n_orders == 28 and result.n_case_orders == 9
    # Each merchant's salad batch explains only a third of the cases.
    batch = next(
        c for c in result.candidates if c.id == str(world.salad_batches[0]) and c.kind == "batch"
    )
    assert batch.exposed_cases == 3 and batch.cases_explained == pytest.approx(1 / 3)
    ranked = [(c.kind, c.id) for c in result.candidates]
    assert ranked.index(("batch", str(world.salad_batches[0]))) > 0
    # The supplier delivered the carrots everybody ate too: exposed everyone, RR undefined.
    farm = next(
        c for c in result.candidates if c.kind == "supplier" and c.id == str(world.lettuce_supplier)
    )
    assert farm.exposed_total == 28 and farm.relative_risk is None


def test_every_figure_matches_scipy(session, outbreak):
    _world, _orders, case_ids = outbreak
    result = investigation.investigate(session=session, case_ids=case_ids, limit=200)
    checked = 0
    for c in result.candidates:
        a, b = c.exposed_cases, c.exposed_total - c.exposed_cases
        cc, d = c.unexposed_cases, c.unexposed_total - c.unexposed_cases
        assert c.fisher_p == pytest.approx(fisher_exact([[a, b], [cc, d]]).pvalue, rel=1e-9)
        if a and cc:
            rr = relative_risk(a, c.exposed_total, cc, c.unexposed_total)
            low, high = rr.confidence_interval(0.95)
            assert c.relative_risk == pytest.approx(rr.relative_risk)
            assert c.rr_ci95 == (pytest.approx(low), pytest.approx(high))
            checked += 1
    assert checked >= 3  # merchants A-C's soups and salads have cases on both sides


def test_the_answer_has_exactly_the_issue_fields(session, outbreak):
    _world, _orders, case_ids = outbreak
    doc = investigation.investigate(session=session, case_ids=case_ids).as_dict()
    assert set(doc["candidates"][0]) == {
        "kind", "id", "label", "exposed_cases", "exposed_total", "unexposed_cases",
        "unexposed_total", "attack_rate_exposed", "attack_rate_unexposed", "relative_risk",
        "rr_ci95", "fisher_p", "cases_explained",
    }  # fmt: skip
    assert doc["candidates"][0]["relative_risk"] == "Infinity"
    assert doc["candidates"][0]["rr_ci95"] == [None, None]


def test_orders_outside_the_window_are_not_in_the_cohort(session, outbreak):
    world, _orders, case_ids = outbreak
    from tests.complaints.world import add_order

    add_order(
        session, world, user=world.students[-1], merchant=world.merchants[3],
        item=world.items["soup3"], batch=world.other_batches[3], at=NOW - timedelta(days=9),
    )  # fmt: skip
    session.commit()
    result = investigation.investigate(session=session, case_ids=case_ids)
    assert result.n_orders == 28
    wide = investigation.investigate(
        session=session, case_ids=case_ids, since=NOW - timedelta(days=10), until=NOW
    )
    assert wide.n_orders == 29


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"case_ids": []}, "case_ids"),
        ({"case_ids": [999999]}, "case_ids"),
        ({"case_ids": [1], "pathogen": "martian_flu"}, "pathogen"),
        ({"case_ids": [1], "since": NOW}, "since"),
        ({"case_ids": [1], "limit": 0}, "limit"),
    ],
)
def test_bad_requests_name_the_field(session, kwargs, field):
    with pytest.raises(investigation.InvestigationError) as err:
        investigation.investigate(session=session, **kwargs)
    assert err.value.field == field
