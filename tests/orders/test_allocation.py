"""First-in, first-out allocation of portions (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.allocation import OpenBatch, Shortfall, Stock, Take


def stock() -> Stock:
    return Stock(
        [
            OpenBatch(menu_batch_id=1, batch_id=11, menu_item_id=5, remaining=3),
            OpenBatch(menu_batch_id=2, batch_id=12, menu_item_id=5, remaining=4),
            OpenBatch(menu_batch_id=3, batch_id=13, menu_item_id=6, remaining=2),
        ]
    )


def test_the_oldest_batch_serves_first_and_a_line_may_span_two():
    s = stock()
    assert s.take(5, 2) == [Take(1, 11, 2)]
    assert s.take(5, 3) == [Take(1, 11, 1), Take(2, 12, 2)]
    assert s.available(5) == 2


def test_a_shortfall_takes_nothing_and_says_what_is_left():
    s = stock()
    with pytest.raises(Shortfall) as caught:
        s.take(5, 8)
    assert (caught.value.wanted, caught.value.available) == (8, 7)
    assert s.available(5) == 7


def test_take_all_is_all_or_nothing_across_lines():
    s = stock()
    with pytest.raises(Shortfall):
        s.take_all([(5, 6), (6, 3)])
    assert (s.available(5), s.available(6)) == (7, 2)
    assert s.take_all([(5, 6), (6, 2)]) == [[Take(1, 11, 3), Take(2, 12, 3)], [Take(3, 13, 2)]]


def test_an_item_without_open_batches_is_sold_out():
    with pytest.raises(Shortfall):
        stock().take(99, 1)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 6), min_size=1, max_size=5),
    wants=st.lists(st.integers(1, 5), max_size=12),
)
def test_portions_are_conserved_and_batches_drain_in_order(sizes, wants):
    s = Stock(OpenBatch(i, 100 + i, 1, n) for i, n in enumerate(sizes))
    taken = [0] * len(sizes)
    for want in wants:
        try:
            takes = s.take(1, want)
        except Shortfall:
            assert want > sum(sizes) - sum(taken)
            continue
        assert sum(t.quantity for t in takes) == want
        assert [t.menu_batch_id for t in takes] == sorted(t.menu_batch_id for t in takes)
        for t in takes:
            taken[t.menu_batch_id] += t.quantity
    assert sum(taken) + s.available(1) == sum(sizes)
    for j, amount in enumerate(taken):
        assert amount <= sizes[j]
        if amount:  # a later batch serves only once every earlier one is empty
            assert all(taken[i] == sizes[i] for i in range(j))
