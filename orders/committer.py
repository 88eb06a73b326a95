"""Group commit: the order placements and payment outcomes of many request threads written in
one transaction.

Every write to the ledger holds its sequencer lock until commit, and a commit costs a disk
flush (about 3 ms on the benchmark machine): one order per transaction would cap the whole
deployment at a few hundred orders a second. Here each process has one writer thread; request
threads hand it their work and wait. While one batch commits, the next requests queue up, so
batches grow with the load and no delay is added when the load is light (a lone request is
written at once). `placement.write_batch` is the transaction boundary; this only groups.

A request that waits longer than `timeout` gets WriterBusy (the views answer 503 with
Retry-After); its work may still be written - the Idempotency-Key makes the retry safe.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from columns import utcnow
from orders.admission import N_
from orders.checkout import OrderRequest
from orders.errors import OrderError
from orders.placement import PaymentOutcome, Placed, write_batch
from orders.rules import OrdersConfig

log = logging.getLogger("foodtrace.orders.committer")
BUSY = N_("orders are being written slowly; try again in a moment")
IDLE_EXIT_SECONDS = 10.0  # an idle writer thread ends; the next request starts a new one


class WriterBusy(Exception):
    """The writer did not finish this request's batch in time; retry with the same key."""

    retry_after = 2


@dataclass
class _Work:
    request: OrderRequest | None
    outcome: PaymentOutcome | None
    future: Future[Any]


class GroupCommitter:
    """One writer thread per process batching `write_batch` calls."""

    def __init__(
        self,
        engine: Engine,
        config: OrdersConfig,
        *,
        tz: str = "Asia/Shanghai",
        max_batch: int = 200,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.config, self.tz = engine, config, tz
        self.max_batch, self.clock = max_batch, clock
        self._queue: queue.Queue[_Work] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.batches = 0  # how many transactions were written (for tests and metrics)

    def place(self, request: OrderRequest, *, timeout: float = 30.0) -> Placed:
        """Place an order in the next batch; raises its OrderError or WriterBusy."""
        result = self._submit(_Work(request, None, Future()), timeout)
        assert isinstance(result, Placed)
        return result

    def record(self, outcome: PaymentOutcome, *, timeout: float = 30.0) -> bool:
        """Apply a payment outcome in the next batch; False when it changed nothing."""
        return bool(self._submit(_Work(None, outcome, Future()), timeout))

    def _submit(self, work: _Work, timeout: float) -> Any:
        self._queue.put(work)
        self._ensure_thread()
        try:
            return work.future.result(timeout=timeout)
        except TimeoutError:
            raise WriterBusy(BUSY) from None

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="orders-committer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_EXIT_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():  # no work arrived while deciding: stop
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[_Work]) -> None:
        requests = [w for w in batch if w.request is not None]
        outcomes = [w for w in batch if w.outcome is not None]
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                result = write_batch(
                    session=session,
                    requests=[w.request for w in requests],  # type: ignore[misc]
                    outcomes=[w.outcome for w in outcomes],  # type: ignore[misc]
                    config=self.config,
                    now=self.clock(),
                    tz=self.tz,
                )
        except Exception as exc:
            if len(batch) > 1:  # one bad request must not sink the others: write them singly
                log.warning("a batch of %d failed (%r); writing them one by one", len(batch), exc)
                for w in batch:
                    self._write([w])
                return
            log.exception("writing an order batch failed")
            batch[0].future.set_exception(exc)
            return
        self.batches += 1
        for w, placed in zip(requests, result.placed, strict=True):
            if isinstance(placed, OrderError):
                w.future.set_exception(placed)
            else:
                w.future.set_result(placed)
        for w, recorded in zip(outcomes, result.recorded, strict=True):
            w.future.set_result(recorded)
