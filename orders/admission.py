"""Admission control for order storms: refuse early and cheaply so accepted orders stay fast.

Three gates, checked before an order is placed:
- a global in-flight limit: a process-local semaphore, plus (when the limits storage is Redis)
  a deployment-wide count kept as a Redis sorted set of request ids whose scores are start
  times; members older than `in_flight_ttl` are dropped, so a crashed process leaks nothing;
- a per-student rate (orders per minute) and a per-merchant rate (orders per second), sliding
  window counters of the `limits` package on `settings.rate_limit_storage_url` (memory:// in
  the embedded default, redis:// in production).
The cheap checks come first - the process's semaphore (no I/O), the deployment's count (one
Redis round trip), then the rates - so in a storm most refusals cost nothing. Size the
process's share (ORDERS_MAX_IN_FLIGHT_PER_PROCESS) to the deployment's limit divided by the
number of web processes.
A refused request gets `Overloaded` with the seconds to wait (429 + Retry-After). If the limits
storage is unreachable the gates open (log a warning): degraded limits beat refusing everyone.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

log = logging.getLogger("foodtrace.orders.admission")
IN_FLIGHT_KEY = "foodtrace:orders:in_flight"
BUSY = "the ordering service is busy; try again"


class Overloaded(Exception):
    """Too many orders right now; `retry_after` seconds, `scope` user | merchant | system."""

    def __init__(self, message: str, *, retry_after: int, scope: str) -> None:
        super().__init__(message)
        self.retry_after, self.scope = max(1, retry_after), scope


class Admission:
    """The gates of one process (see the module docstring)."""

    def __init__(
        self,
        storage_url: str,
        *,
        user_per_minute: int,
        merchant_per_second: int,
        max_in_flight: int,
        max_in_flight_per_process: int | None = None,
        in_flight_ttl: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage_from_string(storage_url)
        # one storage round trip a hit (a moving window costs a script and a list per key)
        self.limiter = SlidingWindowCounterRateLimiter(self.storage)
        self.per_user = RateLimitItemPerMinute(user_per_minute)
        self.per_merchant = RateLimitItemPerSecond(merchant_per_second)
        self.max_in_flight = max_in_flight
        self.in_flight_ttl = in_flight_ttl
        self.clock = clock
        self._slots = threading.BoundedSemaphore(max_in_flight_per_process or max_in_flight)
        self._redis: Any = None
        if storage_url.startswith(("redis://", "rediss://")):
            import redis

            self._redis = redis.Redis.from_url(storage_url, socket_timeout=0.5)

    def check_rates(self, *, user: str | int, merchant_id: int | None) -> None:
        """Count one order attempt for the caller and the merchant; Overloaded if over.

        `user` is whatever names the student cheaply (the views use the credential, so the
        check runs before any database work); no merchant (a malformed body) skips that gate.
        """
        self._hit(self.per_user, ("orders-user", str(user)), "user", (
            "you are ordering too fast; wait a moment"
        ))  # fmt: skip
        if merchant_id is None:
            return
        self._hit(self.per_merchant, ("orders-merchant", str(merchant_id)), "merchant", (
            "this kitchen is taking too many orders right now; try again shortly"
        ))  # fmt: skip

    def _hit(self, item: Any, keys: tuple[str, str], scope: str, message: str) -> None:
        try:
            if self.limiter.hit(item, *keys):
                return
            reset = self.limiter.get_window_stats(item, *keys).reset_time
        except Exception as exc:  # storage down: let the order through
            log.warning("rate limit storage unavailable (%r); admitting", exc)
            return
        raise Overloaded(message, retry_after=math.ceil(reset - self.clock()), scope=scope)

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        """Hold one of the in-flight slots while an order is placed; Overloaded if none."""
        slot = self.enter()
        try:
            yield
        finally:
            self.leave(slot)

    def enter(self) -> str | None:
        """Take an in-flight slot (Overloaded if none); give it back with `leave`."""
        self.enter_local()
        try:
            return self.enter_shared()
        except Overloaded:
            self._slots.release()
            raise

    def enter_local(self) -> None:
        """The process's slot (no I/O); Overloaded if none is free."""
        if not self._slots.acquire(blocking=False):
            raise Overloaded(BUSY, retry_after=1, scope="system")

    def enter_shared(self) -> str | None:
        """After enter_local: the deployment-wide slot (Redis), if configured."""
        return self._enter_redis() if self._redis is not None else None

    def admit(self, *, user: str | int, merchant_id: int | None) -> str | None:
        """All gates, cheapest first: this process's slot (no I/O), the deployment's slot (one
        Redis round trip), then the rates. Returns the slot to `leave`; raises Overloaded.
        In a storm most requests are refused by the first gate and cost nothing."""
        self.enter_local()
        shared = None
        try:
            shared = self.enter_shared()
            self.check_rates(user=user, merchant_id=merchant_id)
        except BaseException:
            if shared is not None:
                self._leave_redis(shared)
            self._slots.release()
            raise
        return shared

    def leave(self, slot: str | None) -> None:
        """Give back a slot taken by `enter`."""
        if slot is not None:
            self._leave_redis(slot)
        self._slots.release()

    def _enter_redis(self) -> str | None:
        member = uuid.uuid4().hex
        now = self.clock()
        try:
            pipe = self._redis.pipeline()
            pipe.zremrangebyscore(IN_FLIGHT_KEY, 0, now - self.in_flight_ttl)
            pipe.zadd(IN_FLIGHT_KEY, {member: now})
            pipe.zcard(IN_FLIGHT_KEY)
            pipe.expire(IN_FLIGHT_KEY, math.ceil(self.in_flight_ttl))
            count = pipe.execute()[2]
        except Exception as exc:
            log.warning("in-flight counter unavailable (%r); admitting", exc)
            return None
        if count > self.max_in_flight:
            self._leave_redis(member)
            raise Overloaded(BUSY, retry_after=1, scope="system")
        return member

    def _leave_redis(self, member: str) -> None:
        try:
            self._redis.zrem(IN_FLIGHT_KEY, member)
        except Exception as exc:  # the TTL cleans it up
            log.warning("could not leave the in-flight counter (%r)", exc)

    def reset(self) -> None:
        """Forget every count (tests)."""
        self.storage.reset()
        if self._redis is not None:
            self._redis.delete(IN_FLIGHT_KEY)
