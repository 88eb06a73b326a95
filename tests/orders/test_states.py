"""Order state moves (pure)."""

from __future__ import annotations

import pytest

from orders import states
from orders.errors import InvalidTransition


@pytest.mark.parametrize(
    ("action", "status", "after"),
    [
        ("accept", "placed", "accepted"),
        ("reject", "placed", "rejected"),
        ("reject", "accepted", "rejected"),
        ("ready", "accepted", "ready"),
        ("pickup", "ready", "out_for_delivery"),
        ("dropoff", "out_for_delivery", "delivered"),
    ],
)
def test_allowed_moves(action, status, after):
    assert states.next_status(action, status, "paid") == after


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("accept", "accepted"),
        ("ready", "placed"),
        ("reject", "ready"),
        ("pickup", "accepted"),
        ("dropoff", "ready"),
        ("accept", "cancelled"),
        ("reject", "delivered"),
    ],
)
def test_moves_from_other_states_are_refused(action, status):
    with pytest.raises(InvalidTransition):
        states.next_status(action, status, "paid")


def test_a_deferred_payment_does_not_stop_the_kitchen_but_a_failed_one_does():
    assert states.next_status("accept", "placed", "deferred") == "accepted"
    with pytest.raises(InvalidTransition):
        states.next_status("accept", "placed", "failed")


@pytest.mark.parametrize(
    ("status", "after"),
    [
        ("placed", "cancelled"),
        ("ready", "cancelled"),
        ("out_for_delivery", "out_for_delivery"),
        ("delivered", "delivered"),
        ("rejected", "rejected"),
    ],
)
def test_a_failed_payment_cancels_only_orders_still_in_the_kitchen(status, after):
    assert states.after_failed_payment(status) == after


def test_every_state_has_a_label():
    assert set(states.ORDER_LABELS) == set(states.ORDER_STATUSES)
    assert set(states.PAYMENT_LABELS) == set(states.PAYMENT_STATUSES)
