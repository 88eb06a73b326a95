"""What callers append (Event), what the log holds (Entry), and how one becomes the other.

An entry is the RFC 8785 canonical JSON of an envelope:

    {"type": "complaint.opened", "v": 1, "ts": "2025-03-01T08:30:00.000000Z",
     "actor": "user:12", "subject": {"case": 7, "merchant": 3},
     "payload": {"category": "foreign-object", ...},
     "payload_digest": {"phone": "<hex HMAC-SHA256>", ...}}

Personal data never enters an entry: each payload field named in `Event.personal` is replaced by
HMAC-SHA256(salt, canonical_json([field, value])) under `payload_digest`, with one random salt per
entry kept in the mutable `ledger_salt` table. Whoever holds the row and the salt can show that
the row's value is the one recorded; erasing the salt (`erase_personal_data`) together with the
row's value leaves only an unlinkable digest in the log, which still verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.canonical import (
    NeedsSlowPath,
    NotCanonicalisable,
    canonical_json,
    encode_prepared,
    prepared,
    rfc3339,
)
from ledger.errors import InvalidEvent

MAX_TYPE_LENGTH = 120  # matches ledger_entry.type
MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785: JSON numbers are doubles
SALT_BYTES = 16


@dataclass(frozen=True, slots=True)
class Event:
    """A fact to append. `type` is "<domain>.<what happened>", e.g. "order.placed".

    payload: JSON-able field values (datetimes, Decimals, UUIDs and Enums are normalised, see
    canonical.json_value); personal: payload fields replaced by salted digests; subject: the ids
    the fact is about ({"order": 12, "merchant": 3}); actor: who caused it ("user:5",
    "device:9", "system"); ts: when it happened (tz-aware; defaults to the append time); v: the
    payload schema version of this type.
    """

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    actor: str = "system"
    subject: Mapping[str, Any] = field(default_factory=dict)
    personal: frozenset[str] = frozenset()
    ts: datetime | None = None
    v: int = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One leaf of the log: 0-based index, type, canonical envelope bytes and RFC 9162 leaf hash."""

    index: int
    type: str
    data: bytes
    leaf_hash: bytes

    def envelope(self) -> dict[str, Any]:
        """The decoded envelope (type, v, ts, actor, subject, payload, payload_digest)."""
        return json.loads(self.data)


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """An event turned into entry bytes, with the salt its personal digests used (if any)."""

    type: str
    data: bytes
    salt: bytes | None


def personal_digest(salt: bytes, name: str, value: Any) -> str:
    """Hex HMAC-SHA256 under `salt` of the canonical [field name, value] pair."""
    message = canonical_json([name, value])
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def _is_mapping(value: object) -> bool:
    return type(value) is dict or isinstance(value, Mapping)  # exact dict first: ABC checks cost


def _check(event: Event) -> None:
    kind = event.type
    if type(kind) is not str or not 0 < len(kind) <= MAX_TYPE_LENGTH:
        raise InvalidEvent(f"event type must be 1..{MAX_TYPE_LENGTH} characters")
    if type(event.v) is not int or not 0 < event.v <= MAX_SAFE_INTEGER:
        raise InvalidEvent("event version v must be a positive integer")
    if type(event.actor) is not str or not event.actor:
        raise InvalidEvent("event actor must be a non-empty string")
    if not (_is_mapping(event.payload) and _is_mapping(event.subject)):
        raise InvalidEvent("event payload and subject must be mappings")
    if event.ts is not None and (not isinstance(event.ts, datetime) or event.ts.tzinfo is None):
        raise InvalidEvent("event ts must be a timezone-aware datetime")
    if event.personal and not set(event.personal) <= event.payload.keys():
        unknown = sorted(set(event.personal) - set(event.payload))
        raise InvalidEvent(f"personal fields not in the payload: {unknown}")


def envelope(event: Event, *, ts: str, salt: bytes | None) -> dict[str, Any]:
    """The envelope of an event (personal fields digested with `salt`); values are normalised by
    canonical_json when encoded."""
    payload = event.payload
    env: dict[str, Any] = {
        "type": event.type,
        "v": event.v,
        "ts": rfc3339(event.ts) if event.ts is not None else ts,
        "actor": event.actor,
        "subject": event.subject,
        "payload": payload,
    }
    if event.personal:
        assert salt is not None  # encode() always passes one when there are personal fields
        personal = event.personal
        env["payload"] = {k: v for k, v in payload.items() if k not in personal}
        env["payload_digest"] = {k: personal_digest(salt, k, payload[k]) for k in personal}
    return env


def encode(event: Event, *, ts: str) -> EncodedEvent:
    """Validate an event and return its canonical entry bytes (and fresh salt if needed).

    `ts` is the RFC 3339 append time used when the event carries none.
    """
    _check(event)
    salt = secrets.token_bytes(SALT_BYTES) if event.personal else None
    env = envelope(event, ts=ts, salt=salt)
    try:
        try:  # hot path: the top-level keys are fixed ASCII names, only nested values need care
            env["subject"] = prepared(env["subject"])
            env["payload"] = prepared(env["payload"])
            if "payload_digest" in env:
                env["payload_digest"] = prepared(env["payload_digest"])
            data = encode_prepared(env)
        except (NeedsSlowPath, UnicodeEncodeError):
            data = canonical_json(envelope(event, ts=ts, salt=salt))
    except NotCanonicalisable as exc:
        raise InvalidEvent(f"{event.type}: {exc}") from exc
    return EncodedEvent(event.type, data, salt)
