"""The retry schedule, references and configuration (pure)."""

from __future__ import annotations

import pytest

from orders import payments
from orders.rules import OrdersConfig, RulesError, default_rules


def test_retries_double_until_the_cap():
    delays = [payments.retry_delay(n, base=2.0, cap=60.0) for n in range(0, 8)]
    assert delays == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.75, 1.0, 3.0])
def test_jitter_shortens_a_delay_by_at_most_half(jitter):
    delay = payments.retry_delay(3, base=2.0, cap=60.0, jitter=jitter)
    assert 4.0 <= delay <= 8.0
    assert delay == 8.0 * min(1.0, max(0.5, jitter))


def test_an_orders_charge_reference_is_derived_from_its_id():
    assert payments.payment_reference(42) == "order-42"
    assert payments.payment_reference(42) == payments.payment_reference(42)
    assert payments.refund_reference(42, "ab" * 32) == "refund-42-" + ("ab" * 12)


def test_config_defaults_come_from_the_rules_file_and_keys_override_them():
    rules = default_rules()
    default = OrdersConfig.from_mapping()
    assert default.retention_days == rules["retention_days"] >= 183
    assert default.max_quantity_per_line == rules["max_quantity_per_line"]
    custom = OrdersConfig.from_mapping({"ORDER_RETENTION_DAYS": 200, "ORDERS_MAX_IN_FLIGHT": "8"})
    assert (custom.retention_days, custom.max_in_flight) == (200, 8)
    assert default.max_in_flight_per_process == rules["max_in_flight_per_process"]
    small = OrdersConfig.from_mapping({"ORDERS_MAX_IN_FLIGHT": 3})
    assert small.max_in_flight_per_process == 3  # a process's share never exceeds the whole


@pytest.mark.parametrize("value", [0, -1, "many"])
def test_config_refuses_nonsense(value):
    with pytest.raises(RulesError):
        OrdersConfig.from_mapping({"ORDERS_USER_PER_MINUTE": value})
