"""Admission control: per-student and per-merchant rates, and the in-flight limit."""

from __future__ import annotations

import pytest

from orders.admission import IN_FLIGHT_KEY, Admission, Overloaded
from tests.conftest import REDIS_URL, require_service


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def gates(url: str = "memory://", **kw) -> Admission:
    base = dict(user_per_minute=3, merchant_per_second=5, max_in_flight=2)
    base.update(kw)
    return Admission(url, **base)


def test_a_student_over_the_per_minute_rate_is_told_when_to_come_back():
    a = gates()
    for _ in range(3):
        a.check_rates(user=1, merchant_id=1)
    with pytest.raises(Overloaded) as caught:
        a.check_rates(user=1, merchant_id=1)
    assert caught.value.scope == "user"
    assert 1 <= caught.value.retry_after <= 60
    a.check_rates(user=2, merchant_id=1)  # other students are not affected


def test_a_merchant_over_its_rate_refuses_every_student():
    a = gates(user_per_minute=100, merchant_per_second=2)
    a.check_rates(user=1, merchant_id=9)
    a.check_rates(user=2, merchant_id=9)
    with pytest.raises(Overloaded) as caught:
        a.check_rates(user=3, merchant_id=9)
    assert caught.value.scope == "merchant" and caught.value.retry_after == 1
    a.check_rates(user=3, merchant_id=10)


def test_the_in_flight_limit_admits_again_once_a_slot_frees():
    a = gates(max_in_flight=2)
    with a.in_flight(), a.in_flight():
        with pytest.raises(Overloaded) as caught, a.in_flight():
            pass
        assert caught.value.scope == "system"
    with a.in_flight():
        pass


def test_a_failure_inside_the_slot_frees_it():
    a = gates(max_in_flight=1)
    with pytest.raises(RuntimeError), a.in_flight():
        raise RuntimeError("boom")
    with a.in_flight():
        pass


@pytest.mark.redis
def test_redis_counts_in_flight_orders_across_processes():
    require_service("Redis", "127.0.0.1", 6379)
    clock = Clock()
    one = gates(REDIS_URL, max_in_flight=2, clock=clock)
    other = gates(REDIS_URL, max_in_flight=2, clock=clock)  # another process, same limit
    one.reset()
    with one.in_flight(), other.in_flight(), pytest.raises(Overloaded), one.in_flight():
        pass
    assert one._redis.zcard(IN_FLIGHT_KEY) == 0
    # a request whose process died is forgotten after the TTL
    one._redis.zadd(IN_FLIGHT_KEY, {"dead-1": clock.now, "dead-2": clock.now})
    with pytest.raises(Overloaded), one.in_flight():
        pass
    clock.now += one.in_flight_ttl + 1
    with one.in_flight():
        pass
    one.reset()


@pytest.mark.redis
def test_redis_rates_are_shared_across_processes():
    require_service("Redis", "127.0.0.1", 6379)
    one, other = gates(REDIS_URL), gates(REDIS_URL)
    one.reset()
    one.check_rates(user=5, merchant_id=1)
    other.check_rates(user=5, merchant_id=1)
    one.check_rates(user=5, merchant_id=1)
    with pytest.raises(Overloaded):
        other.check_rates(user=5, merchant_id=1)
    one.reset()


def test_unreachable_limits_storage_admits_instead_of_refusing_everyone():
    a = gates("redis://127.0.0.1:1/0")  # nothing listens on port 1
    for _ in range(10):
        a.check_rates(user=1, merchant_id=1)
    with a.in_flight():
        pass


@pytest.mark.redis
def test_redis_checks_every_gate_in_one_round_trip_and_counts_only_the_admitted():
    require_service("Redis", "127.0.0.1", 6379)
    clock = Clock()
    a = gates(REDIS_URL, user_per_minute=2, merchant_per_second=3, max_in_flight=10, clock=clock)
    a.reset()
    calls: list[object] = []
    script = a._gates
    a._gates = lambda **kw: calls.append(kw) or script(**kw)  # type: ignore[method-assign]
    slots = [a.admit(user="s1", merchant_id=4), a.admit(user="s1", merchant_id=4)]
    assert all(slots) and a._redis.zcard(IN_FLIGHT_KEY) == 2
    with pytest.raises(Overloaded) as caught:
        a.admit(user="s1", merchant_id=4)
    assert caught.value.scope == "user" and 1 <= caught.value.retry_after <= 60
    assert len(calls) == 3  # one script call a request
    a.admit(user="s2", merchant_id=4)  # the refused request did not use the merchant's rate
    with pytest.raises(Overloaded) as caught:
        a.admit(user="s3", merchant_id=4)
    assert caught.value.scope == "merchant" and caught.value.retry_after == 1
    for slot in slots:
        a.leave(slot)
    assert a._redis.zcard(IN_FLIGHT_KEY) == 1
    clock.now += 61  # the student's earlier minute no longer counts in full
    a.admit(user="s1", merchant_id=5)
    a.reset()


@pytest.mark.redis
def test_redis_in_flight_limit_refuses_through_admit():
    require_service("Redis", "127.0.0.1", 6379)
    a = gates(REDIS_URL, user_per_minute=100, max_in_flight=1)
    b = gates(REDIS_URL, user_per_minute=100, max_in_flight=1)  # another process
    a.reset()
    slot = a.admit(user="x", merchant_id=1)
    with pytest.raises(Overloaded) as caught:
        b.admit(user="y", merchant_id=1)
    assert caught.value.scope == "system"
    a.leave(slot)
    b.leave(b.admit(user="y", merchant_id=1))
    a.reset()


def test_a_saturated_process_refuses_before_looking_at_the_merchant():
    a = gates(user_per_minute=100, max_in_flight=1)
    asked: list[int] = []
    slot = a.admit(user=1, merchant_id=lambda: asked.append(1) or 7)
    with pytest.raises(Overloaded) as caught:
        a.admit(user=2, merchant_id=lambda: asked.append(2) or 7)
    assert caught.value.scope == "system" and asked == [1]
    a.leave(slot)
    a.leave(a.admit(user=2, merchant_id=lambda: asked.append(3) or 7))
    assert asked == [1, 3]
