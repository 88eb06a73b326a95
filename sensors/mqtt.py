"""The MQTT channel: devices publish readings to ``foodtrace/sensors/{device_id}/readings``.

`ReadingSubscriber.handle_many` turns a flush of messages into stored readings through the same
ingest service as the HTTP API (one transaction, one commit, one ledger batch entry per device
per flush); `handle(topic, payload)` is the one-message form, testable without a broker.
Malformed messages, unknown topics and unknown or revoked devices are logged and dropped.

`MqttRunner` is the process (`flask --app app sensors mqtt`): paho-mqtt 2 over MQTT 5 with a
persistent session (clean_start off, session expiry) and manual acknowledgement, so a QoS 1
message is acknowledged only after the transaction holding its readings commits; anything not
acknowledged is redelivered by the broker after a crash or reconnect (idempotent: duplicates
of stored readings are set aside).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from columns import utcnow
from sensors.ingest import IngestResult, ingest_many
from sensors.models import Device
from sensors.readings import BatchError, ParsedBatch, parse_mqtt_payload
from sensors.service import DeviceForbidden

log = logging.getLogger("foodtrace.sensors.mqtt")
TOPIC_PREFIX = "foodtrace/sensors"
TOPIC_FILTER = f"{TOPIC_PREFIX}/+/readings"
_TOPIC = re.compile(rf"{re.escape(TOPIC_PREFIX)}/([A-Za-z0-9][A-Za-z0-9._:-]{{0,63}})/readings")


def subscription(share_group: str | None) -> str:
    """The topic filter to subscribe to: every device's readings, or, with a share group, the
    MQTT 5 shared subscription `$share/{group}/...` through which the broker hands each message
    to one of the group's subscribers (several subscriber processes, on any machines, split the
    stream instead of each storing every message)."""
    if share_group is None:
        return TOPIC_FILTER
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", share_group):
        raise ValueError("a share group is 1-64 letters, digits, '.', '_' or '-'")
    return f"$share/{share_group}/{TOPIC_FILTER}"


def topic_for(device_id: str) -> str:
    """The topic a device publishes its readings to."""
    return f"{TOPIC_PREFIX}/{device_id}/readings"


@dataclass(frozen=True, slots=True)
class Flush:
    """What one flush did: results per device, and how many messages were dropped."""

    results: tuple[IngestResult, ...]
    stored_messages: int
    dropped: int


class ReadingSubscriber:
    """Validates and stores MQTT messages; knows nothing of paho (see MqttRunner)."""

    def __init__(
        self,
        *,
        engine: Engine,
        on_stored: Callable[[IngestResult], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self.clock = clock

    def handle(self, topic: str, payload: bytes) -> IngestResult | None:
        """Store one message's readings; None when the message was dropped (logged)."""
        flush = self.handle_many([(topic, payload)])
        return flush.results[0] if flush.results else None

    def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> Flush:
        """Store a flush of messages in one transaction; raises only if the database fails
        (then nothing of the flush is stored and the caller retries it)."""
        now = self.clock()
        by_device: dict[str, list[bytes]] = {}
        dropped = 0
        for topic, payload in messages:
            match = _TOPIC.fullmatch(topic)
            if match is None:
                log.warning("dropped a message on unexpected topic %r", topic[:200])
                dropped += 1
            else:
                by_device.setdefault(match[1], []).append(payload)
        with Session(self.engine, expire_on_commit=False) as session:
            devices = self._devices(session, list(by_device))
            batches = []
            for device_id, payloads in by_device.items():
                device = devices.get(device_id)
                if device is None or device.revoked_at is not None:
                    state = "unknown" if device is None else "revoked"
                    log.warning(
                        "dropped %d message(s) of %s device %r", len(payloads), state, device_id
                    )
                    dropped += len(payloads)
                    continue
                parsed = []
                for payload in payloads:
                    try:
                        batch = parse_mqtt_payload(payload, now=now)
                    except BatchError as exc:
                        log.warning("dropped a malformed message from %s: %s", device_id, exc)
                        dropped += 1
                        continue
                    for r in batch.rejected:
                        log.warning(
                            "rejected reading %d from %s: %s", r.index, device_id, r.message
                        )
                    parsed.append(batch)
                if parsed:
                    batches.append((device, _merge(parsed)))
            results = self._store(session, batches)
        for result in results:
            if self.on_stored is not None and result.accepted:
                self.on_stored(result)
        return Flush(tuple(results), len(messages) - dropped, dropped)

    def _store(
        self, session: Session, batches: list[tuple[Device, ParsedBatch]]
    ) -> list[IngestResult]:
        while batches:
            try:
                return ingest_many(session=session, batches=batches, channel="mqtt")
            except DeviceForbidden as exc:  # revoked between lookup and lock: drop, retry rest
                log.warning("dropped readings: %s", exc)
                rest = [(d, p) for d, p in batches if d.device_id != exc.device_id]
                if len(rest) == len(batches):
                    raise
                batches = rest
        return []

    @staticmethod
    def _devices(session: Session, device_ids: list[str]) -> dict[str, Device]:
        if not device_ids:
            return {}
        stmt = select(Device).where(col(Device.device_id).in_(device_ids))
        return {d.device_id: d for d in session.exec(stmt).all()}


def _merge(batches: list[ParsedBatch]) -> ParsedBatch:
    """One device's messages of a flush as one batch (ingest dedupes equal times)."""
    if len(batches) == 1:
        return batches[0]
    accepted = tuple(r for b in batches for r in b.accepted)
    flagged = tuple(n for b in batches for n in b.flagged)
    duplicates = tuple(n for b in batches for n in b.duplicates)
    return ParsedBatch(accepted, (), flagged, duplicates)


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where the broker listens (from settings.mqtt_url, e.g. mqtt://127.0.0.1:1883)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Read mqtt://[user[:password]@]host[:port]."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise ValueError(f"MQTT URL must look like mqtt://host:1883, not {url!r}")
        return cls(parts.hostname, parts.port or 1883, parts.username, parts.password)


class MqttRunner:
    """The subscriber process: receive on paho's thread, store in flushes, ack after commit."""

    def __init__(
        self,
        subscriber: ReadingSubscriber,
        address: BrokerAddress,
        *,
        client_id: str = "foodtrace-ingest",
        flush_size: int = 5000,
        flush_wait: float = 0.05,
        receive_maximum: int = 65_535,
        session_expiry: int = 24 * 3600,
        share_group: str | None = None,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

        self.subscriber = subscriber
        self.address = address
        self.topic_filter = subscription(share_group)
        self.flush_size = flush_size
        self.flush_wait = flush_wait
        self.receive_maximum = receive_maximum
        self.session_expiry = session_expiry
        self.pending: deque[tuple[int, int, str, bytes]] = deque()
        self.arrived = threading.Event()
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.stored = 0  # messages acknowledged after commit (for operators and benchmarks)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        self.client.manual_ack_set(True)
        if address.username:
            self.client.username_pw_set(address.username, address.password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    def _on_connect(
        self, client: Any, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT connection refused: %s", reason)
            return
        client.subscribe(self.topic_filter, qos=1)
        log.info(
            "subscribed to %s on %s:%d", self.topic_filter, self.address.host, self.address.port
        )
        self.connected.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self.connected.clear()
        if self.stop.is_set():
            log.info("MQTT disconnected")
        else:
            log.warning("MQTT disconnected (%s); paho reconnects", reason)

    def _on_message(self, _client: Any, _userdata: Any, message: Any) -> None:
        self.pending.append((message.mid, message.qos, message.topic, message.payload))
        self.arrived.set()

    def start(self) -> None:
        """Connect and start paho's network thread (non-blocking)."""
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry  # unacked messages survive restarts
        props.ReceiveMaximum = self.receive_maximum  # QoS 1 messages in flight to us
        self.client.connect(
            self.address.host, self.address.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()

    def run(self) -> None:
        """Flush until `stop` is set; then disconnect (unacked messages stay with the broker)."""
        try:
            while not self.stop.is_set():
                self.flush_once()
        finally:
            self.client.disconnect()
            self.client.loop_stop()

    def flush_once(self) -> int:
        """Store what arrived (waiting up to flush_wait for more); returns messages acked."""
        if not self.pending:
            self.arrived.wait(self.flush_wait)
            self.arrived.clear()
        deadline = time.monotonic() + self.flush_wait
        while len(self.pending) < self.flush_size and time.monotonic() < deadline:
            if self.stop.wait(0.002):
                break
        batch = [self.pending.popleft() for _ in range(min(len(self.pending), self.flush_size))]
        if not batch:
            return 0
        try:
            self.subscriber.handle_many([(topic, payload) for _, _, topic, payload in batch])
        except Exception:  # the database failed: keep the messages unacknowledged, retry
            log.exception("storing %d MQTT message(s) failed; retrying", len(batch))
            self.pending.extendleft(reversed(batch))
            self.stop.wait(1.0)
            return 0
        for mid, qos, _, _ in batch:
            if qos > 0:
                self.client.ack(mid, qos)
        self.stored += len(batch)
        return len(batch)
