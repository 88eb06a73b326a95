"""Admission control for order storms: refuse early and cheaply so accepted orders stay fast.

Three gates, checked before an order is placed:
- a global in-flight limit: a process-local semaphore, plus (when the limits storage is Redis)
  a deployment-wide count kept as a Redis sorted set of request ids whose scores are start
  times; members older than `in_flight_ttl` are dropped, so a crashed process leaks nothing;
- a per-student rate (orders per minute) and a per-merchant rate (orders per second), sliding
  window counters (the current and the previous window, the previous one weighted by how much
  of it still overlaps the sliding window) on `settings.rate_limit_storage_url`: the `limits`
  package's memory storage in the embedded default; in production (redis://) one Lua script
  checks the deployment's in-flight count and both rates and counts the request only if every
  gate admits it - one Redis round trip a request, admitted or refused.
The process's semaphore comes first (no I/O), so when a process is saturated its refusals cost
nothing. Size the process's share (ORDERS_MAX_IN_FLIGHT_PER_PROCESS) to what one process
writes in the latency you accept (orders/s x seconds) - below its thread count, or requests
wait for a thread instead of being refused - and the deployment's limit to the sum.
Every Redis key carries the hash tag {foodtrace-orders}, so the script also runs on a cluster.
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


def N_(message: str) -> str:
    """Marks a message for extraction (the busy page translates it; the API sends English)."""
    return message


PREFIX = "{foodtrace-orders}:"  # a hash tag: all keys of the script in one cluster slot
IN_FLIGHT_KEY = PREFIX + "in_flight"
RATE_PREFIX = PREFIX + "rate:"
USER_WINDOW, MERCHANT_WINDOW = 60, 1  # seconds
MESSAGES = {
    "user": N_("you are ordering too fast; wait a moment"),
    "merchant": N_("this kitchen is taking too many orders right now; try again shortly"),
}

# KEYS: in-flight set, user window now, user window before, merchant now, merchant before
# ARGV: now, ttl, member, max in flight, take a slot (1/0), user limit, user window, share
#       of the previous user window still counted, the same three for the merchant, merchant
#       given (1/0). Returns "ok" (counted) or the refusing gate: system | user | merchant.
_GATES = """
local function over(now_key, before_key, limit, share)
  local current = tonumber(redis.call('GET', now_key) or '0')
  local before = tonumber(redis.call('GET', before_key) or '0')
  return math.floor(before * share) + current + 1 > limit
end
local take = ARGV[5] == '1'
if take then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 'system' end
end
if over(KEYS[2], KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[8])) then return 'user' end
local merchant = ARGV[12] == '1'
if merchant and over(KEYS[4], KEYS[5], tonumber(ARGV[9]), tonumber(ARGV[11])) then
  return 'merchant'
end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 2 * tonumber(ARGV[7]))
if merchant then
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], 2 * tonumber(ARGV[10]))
end
if take then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])))
end
return 'ok'
"""

BUSY = N_("the ordering service is busy; try again")


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
            self._gates = self._redis.register_script(_GATES)

    def check_rates(self, *, user: str | int, merchant_id: int | None) -> None:
        """Count one order attempt for the caller and the merchant; Overloaded if over.

        `user` is whatever names the student cheaply (the views use the credential, so the
        check runs before any database work); no merchant (a malformed body) skips that gate.
        """
        if self._redis is not None:
            self._redis_gates(user=user, merchant_id=merchant_id, slot=None)
            return
        self._hit(self.per_user, ("orders-user", str(user)), "user", MESSAGES["user"])
        if merchant_id is None:
            return
        self._hit(
            self.per_merchant, ("orders-merchant", str(merchant_id)), "merchant",
            MESSAGES["merchant"],
        )  # fmt: skip

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

    def admit(
        self, *, user: str | int, merchant_id: int | Callable[[], int | None] | None
    ) -> str | None:
        """All gates, cheapest first: this process's slot (no I/O), then the deployment's slot
        and the rates (Redis: one script, one round trip; memory: the `limits` counters).
        `merchant_id` may be a callable (the edge gate reads the body only once the process
        has a slot for it). Returns the slot to `leave`; raises Overloaded."""
        self.enter_local()
        try:
            merchant = merchant_id() if callable(merchant_id) else merchant_id
            if self._redis is not None:
                member = uuid.uuid4().hex
                taken = self._redis_gates(user=user, merchant_id=merchant, slot=member)
                return member if taken else None
            self.check_rates(user=user, merchant_id=merchant)
        except BaseException:
            self._slots.release()
            raise
        return None

    def leave(self, slot: str | None) -> None:
        """Give back a slot taken by `enter`."""
        if slot is not None:
            self._leave_redis(slot)
        self._slots.release()

    def _redis_gates(self, *, user: str | int, merchant_id: int | None, slot: str | None) -> bool:
        """The deployment's gates in one script; True when `slot` was taken in the in-flight
        set, False when the storage is unreachable (admitted: degraded beats refusing all)."""
        now = self.clock()
        user_window, user_share = divmod(now, USER_WINDOW)
        merchant_window, merchant_share = divmod(now, MERCHANT_WINDOW)
        user_key = f"{RATE_PREFIX}u:{user}:"
        merchant_key = f"{RATE_PREFIX}m:{merchant_id}:"
        keys = [
            IN_FLIGHT_KEY,
            f"{user_key}{int(user_window)}", f"{user_key}{int(user_window) - 1}",
            f"{merchant_key}{int(merchant_window)}", f"{merchant_key}{int(merchant_window) - 1}",
        ]  # fmt: skip
        args = [
            now, self.in_flight_ttl, slot or "", self.max_in_flight, int(slot is not None),
            self.per_user.amount, USER_WINDOW, 1 - user_share / USER_WINDOW,
            self.per_merchant.amount, MERCHANT_WINDOW, 1 - merchant_share / MERCHANT_WINDOW,
            int(merchant_id is not None),
        ]  # fmt: skip
        try:
            verdict = self._gates(keys=keys, args=args)
        except Exception as exc:
            log.warning("admission storage unavailable (%r); admitting", exc)
            return False
        verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        if verdict == "ok":
            return slot is not None
        if verdict == "user":
            wait = USER_WINDOW - user_share
        else:
            wait = MERCHANT_WINDOW - merchant_share if verdict == "merchant" else 1
        raise Overloaded(MESSAGES.get(verdict, BUSY), retry_after=math.ceil(wait), scope=verdict)

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
            for key in self._redis.scan_iter(match=RATE_PREFIX.replace("{", "[{]") + "*"):
                self._redis.delete(key)
