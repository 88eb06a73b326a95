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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from ledger.canonical import (
    NotCanonicalisable,
    canonical_json,
    is_plain,
    plain_json_many,
    rfc3339,
)
from ledger.errors import InvalidEvent

MAX_TYPE_LENGTH = 120  # matches ledger_entry.type
MAX_SAFE_INTEGER = 2**53 - 1  # RFC 8785: JSON numbers are doubles
SALT_BYTES = 16
_sha256 = hashlib.sha256
_digest = type(hashlib.sha256()).digest
_LEAF_PREFIX = b"\x00"  # RFC 9162 2.1.1


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


# encode() of one event: a plain tuple, a fifth of the cost of a dataclass instance
EncodedEvent = tuple[str, bytes, bytes, bytes | None]
"""An event turned into an entry: (type, canonical bytes, RFC 9162 leaf hash, salt of its
personal digests or None)."""


@dataclass(frozen=True, slots=True)
class EncodedEvents:
    """Events turned into entries, as columns (one object per batch, not per entry): types,
    canonical bytes, RFC 9162 leaf hashes, salts of personal digests (None where none)."""

    types: Sequence[str]
    datas: Sequence[bytes]
    leaves: Sequence[bytes]
    salts: Sequence[bytes | None]

    def __len__(self) -> int:
        return len(self.types)


_new_object = object.__new__
_set_index, _set_type, _set_data, _set_leaf = (
    vars(Entry)[name].__set__ for name in ("index", "type", "data", "leaf_hash")
)


def entries_of(first: int, encoded: EncodedEvents) -> list[Entry]:
    """The entries of encoded events appended from index `first` on, in order."""
    out: list[Entry] = []
    append = out.append
    # the slot descriptors directly: a frozen dataclass's __init__ goes through
    # object.__setattr__ per field, which costs twice as much for a thousand entries
    columns = zip(encoded.types, encoded.datas, encoded.leaves, strict=True)
    for index, (etype, data, leaf) in enumerate(columns, first):
        entry = _new_object(Entry)
        _set_index(entry, index)
        _set_type(entry, etype)
        _set_data(entry, data)
        _set_leaf(entry, leaf)
        append(entry)
    return out


def personal_digest(salt: bytes, name: str, value: Any) -> str:
    """Hex HMAC-SHA256 under `salt` of the canonical [field name, value] pair."""
    message = canonical_json([name, value])
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def _check(event: Event) -> None:
    kind = event.type
    if type(kind) is not str or not 0 < len(kind) <= MAX_TYPE_LENGTH:
        raise InvalidEvent(f"event type must be 1..{MAX_TYPE_LENGTH} characters")
    if type(event.v) is not int or not 0 < event.v <= MAX_SAFE_INTEGER:
        raise InvalidEvent("event version v must be a positive integer")
    if type(event.actor) is not str or not event.actor:
        raise InvalidEvent("event actor must be a non-empty string")
    payload, subject = event.payload, event.subject
    # exact dicts first: the ABC check costs more, and this runs once per entry
    if not (type(payload) is dict or isinstance(payload, Mapping)) or not (
        type(subject) is dict or isinstance(subject, Mapping)
    ):
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


def _plain_envelope(event: Event, ts: str) -> dict[str, Any] | None:
    """The envelope of a plain event (no personal fields, plain payload and subject), or None
    for another one (it needs canonical_json and maybe a salt). Checks the event first."""
    _check(event)
    payload, subject = event.payload, event.subject
    if event.personal or not (is_plain(payload) and is_plain(subject)):
        return None
    at = event.ts
    return {
        "type": event.type,
        "v": event.v,
        "ts": ts if at is None else rfc3339(at),
        "actor": event.actor,
        "subject": subject,
        "payload": payload,
    }


def encode_many(events: Iterable[Event], *, ts: str) -> EncodedEvents:
    """encode() of each event, in order. Plain events (the common case) get their bytes in
    bulk, iterating in C; the others (personal fields, datetimes...) one by one; leaf hashes
    are made in bulk for all."""
    events = list(events)
    datas: list[bytes | None] = [None] * len(events)
    salts: list[bytes | None] = [None] * len(events)
    plain_at: list[int] = []
    plain: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        env = _plain_envelope(event, ts)
        if env is None:
            datas[i], salts[i] = _encoded(event, ts)
        else:
            plain_at.append(i)
            plain.append(env)
    if plain:
        done = plain_json_many(plain)  # None if orjson refused one: encode them one by one
        if done is None:
            done = [_encoded(events[i], ts)[0] for i in plain_at]
        for i, data in zip(plain_at, done, strict=True):
            datas[i] = data
    ready = cast(list[bytes], datas)
    leaves = list(map(_digest, map(_sha256, map(_LEAF_PREFIX.__add__, ready))))  # RFC 9162
    return EncodedEvents([event.type for event in events], ready, leaves, salts)


def encode(event: Event, *, ts: str) -> EncodedEvent:
    """Validate an event and return its entry bytes, leaf hash and fresh salt (if needed).

    `ts` is the RFC 3339 append time used when the event carries none.
    """
    _check(event)
    data, salt = _encoded(event, ts)
    return (event.type, data, _sha256(_LEAF_PREFIX + data).digest(), salt)  # RFC 9162 leaf


def _encoded(event: Event, ts: str) -> tuple[bytes, bytes | None]:
    """The entry bytes of a checked event and the fresh salt of its personal digests."""
    salt = secrets.token_bytes(SALT_BYTES) if event.personal else None
    try:
        data = canonical_json(envelope(event, ts=ts, salt=salt))
    except NotCanonicalisable as exc:
        raise InvalidEvent(f"{event.type}: {exc}") from exc
    return data, salt
