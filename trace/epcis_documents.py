"""EPCIS 2.0 export of the trace records: lots as receiving ObjectEvents, batches as
TransformationEvents, holds/recalls/disposals as ObjectEvents with CBV dispositions. Lots and
batches captured from EPCIS keep their event as captured. Validates against the GS1 JSON Schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlmodel import Session

from trace.access import Viewer
from trace.exports import (
    Selection,
    bounds,
    receiving_rows,
    scope,
    transformation_rows,
)
from trace.models import DishBatch, EpcisEvent, IngredientLot, Merchant, StatusEvent
from trace.service import DEFAULT_TZ

FOODTRACE_NS = {"ft": "https://foodtrace.campus.example/epcis/"}
EVENT_NAMESPACE = uuid.UUID("3b1f7c8e-6f4e-5d0a-9a61-2f1d8a0c4e21")  # uuid5 namespace of our ids
# CBV 2.0 business transaction types for the document types merchants write.
DOCUMENT_TYPES = {
    "invoice": "inv", "发票": "inv", "delivery note": "desadv", "送货单": "desadv",
    "bill of lading": "bol", "提单": "bol", "purchase order": "po", "采购单": "po",
    "production log": "prodorder", "生产记录": "prodorder",
}  # fmt: skip
# status action → (CBV bizStep, CBV disposition)
STATUS_VOCABULARY = {
    "hold": ("holding", "unavailable"),
    "release": ("inspecting", "available"),
    "recall": ("holding", "recalled"),
    "dispose": ("destroying", "destroyed"),
}
UNCEFACT = {"kg": "KGM", "g": "GRM", "t": "TNE", "L": "LTR", "mL": "MLT", "each": "H87"}


def class_uri(code: str, merchant_id: int, kind: str) -> str:
    """An EPC class URI for a lot or batch code (codes that already are URIs are kept)."""
    if code.startswith(("urn:", "http://", "https://")):
        return code
    return f"urn:foodtrace:{kind}:{merchant_id}:{quote(code, safe='')}"


def _event_id(kind: str, ident: int) -> str:
    return f"urn:uuid:{uuid.uuid5(EVENT_NAMESPACE, f'{kind}:{ident}')}"


def _quantity(code: str, merchant_id: int, kind: str, quantity: float, unit: str) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": class_uri(code, merchant_id, kind), "quantity": quantity}
    if unit == "jin":
        element.update(quantity=quantity * 0.5, uom="KGM")  # 1 斤 = 500 g
    elif unit in UNCEFACT:
        element["uom"] = UNCEFACT[unit]
    return element


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _offset(moment: datetime, tz: str) -> str:
    text = moment.astimezone(ZoneInfo(tz)).strftime("%z")
    return f"{text[:3]}:{text[3:]}"


def _document(kind: str | None, number: str | None) -> list[dict[str, Any]]:
    if not number:
        return []
    item: dict[str, Any] = {"bizTransaction": f"urn:foodtrace:doc:{quote(number, safe='')}"}
    cbv = DOCUMENT_TYPES.get((kind or "").strip().casefold())
    if cbv:
        item["type"] = cbv
    return [item]


def epcis_document(
    *,
    session: Session,
    viewer: Viewer,
    selection: Selection,
    now: datetime,
    tz: str = DEFAULT_TZ,
) -> dict[str, Any]:
    """An EPCIS 2.0 JSON-LD document of the selected events (lots received from EPCIS keep the
    event as captured); validates against the GS1 EPCIS 2.0 JSON Schema."""
    selection.check()
    merchant = scope(viewer, selection)
    identifiers = dict(session.execute(select(Merchant.id, Merchant.identifier)).all())
    captured = _captured_documents(session, selection, merchant, tz)
    events: list[dict[str, Any]] = []
    lot_ids, batch_ids = [], []
    for r in receiving_rows(session, selection, merchant, tz):
        lot_ids.append(r[0])
        if r[17] in captured:
            events.append(captured.pop(r[17]))
            continue
        events.append(_receiving_event(r, identifiers, tz))
    batches, inputs = transformation_rows(session, selection, merchant, tz)
    for b in batches:
        batch_ids.append(b[0])
        if b[13] in captured:
            events.append(captured.pop(b[13]))
            continue
        events.append(_transformation_event(b, inputs.get(b[0], []), tz))
    events += _status_events(session, lot_ids, batch_ids, tz)
    if not selection.lot and not selection.product:
        events += captured.values()  # aggregation, sensor and other captured events
    events.sort(key=lambda e: e["eventTime"])
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
            dict(FOODTRACE_NS),
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _time(now),
        "epcisBody": {"eventList": events},
    }


def _receiving_event(r: Any, identifiers: dict[int, str | None], tz: str) -> dict[str, Any]:
    merchant_id = r[16]
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": _event_id("lot", r[0]),
        "eventTime": _time(r[11]),
        "eventTimeZoneOffset": _offset(r[11], tz),
        "epcList": [],
        "action": "ADD",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "quantityList": [_quantity(r[1], merchant_id, "lot", r[3], r[4])],
        "destinationList": [
            {
                "type": "owning_party",
                "destination": identifiers.get(merchant_id)
                or f"urn:foodtrace:merchant:{merchant_id}",
            }
        ],
        "ilmd": {"cbvmda:lotNumber": r[1], "ft:product": r[2]},
        "ft:ledgerIndex": r[14],
    }
    if r[5]:
        event["sourceList"] = [
            {
                "type": "possessing_party",
                "source": r[7] or f"urn:foodtrace:supplier:{quote(r[6], safe='')}",
            }
        ]
    if r[15]:
        event["ilmd"]["cbvmda:itemExpirationDate"] = r[15].isoformat()
    documents = _document(r[12], r[13])
    if documents:
        event["bizTransactionList"] = documents
    for key, value in (("ft:location", r[10]), ("ft:tlcSource", r[8] or r[9])):
        if value:
            event[key] = value
    return event


def _transformation_event(b: Any, used: list[Any], tz: str) -> dict[str, Any]:
    merchant_id = b[10]
    event: dict[str, Any] = {
        "type": "TransformationEvent",
        "eventID": _event_id("batch", b[0]),
        "eventTime": _time(b[6]),
        "eventTimeZoneOffset": _offset(b[6], tz),
        "bizStep": "commissioning",
        "disposition": "active",
        "outputQuantityList": [_quantity(b[1], merchant_id, "batch", b[3], b[4])],
        "ilmd": {"cbvmda:lotNumber": b[1], "ft:product": b[2]},
        "ft:ledgerIndex": b[9],
    }
    if used:
        event["inputQuantityList"] = [
            _quantity(i[1], merchant_id, "lot" if i[5] is not None else "batch", i[3], i[4])
            for i in used
        ]
    documents = _document(b[7], b[8])
    if documents:
        event["bizTransactionList"] = documents
    if b[5]:
        event["ft:location"] = b[5]
    return event


def _codes(session: Session, model: Any, code: Any, ids: list[int]) -> dict[int, tuple[str, int]]:
    if not ids:
        return {}
    rows = session.execute(select(model.id, code, model.merchant_id).where(model.id.in_(ids)))
    return {ident: (text, merchant) for ident, text, merchant in rows}


def _status_events(
    session: Session, lot_ids: list[int], batch_ids: list[int], tz: str
) -> list[dict[str, Any]]:
    """Holds, releases, recalls and disposals of the selected lots and batches."""
    codes = {
        "lot": _codes(session, IngredientLot, IngredientLot.tlc, lot_ids),
        "batch": _codes(session, DishBatch, DishBatch.batch_code, batch_ids),
    }
    if not lot_ids and not batch_ids:
        return []
    rows = session.execute(
        select(StatusEvent).where(
            or_(
                StatusEvent.lot_id.in_(lot_ids or [-1]),  # type: ignore[union-attr]
                StatusEvent.batch_id.in_(batch_ids or [-1]),  # type: ignore[union-attr]
            )
        )
    ).scalars()
    events = []
    for s in rows:
        kind, ident = ("lot", s.lot_id) if s.lot_id is not None else ("batch", s.batch_id)
        code, merchant_id = codes[kind][ident]  # type: ignore[index]
        step, disposition = STATUS_VOCABULARY[s.action]
        events.append(
            {
                "type": "ObjectEvent",
                "eventID": _event_id("status", s.id),  # type: ignore[arg-type]
                "eventTime": _time(s.at),
                "eventTimeZoneOffset": _offset(s.at, tz),
                "epcList": [],
                "action": "OBSERVE",
                "bizStep": step,
                "disposition": disposition,
                "quantityList": [{"epcClass": class_uri(code, merchant_id, kind)}],
                "ft:reason": s.reason,
                "ft:ledgerIndex": s.ledger_index,
            }
        )
    return events


def _captured_documents(
    session: Session, selection: Selection, merchant: int | None, tz: str
) -> dict[str, dict[str, Any]]:
    start, end = bounds(selection, tz)
    stmt = select(EpcisEvent.event_id, EpcisEvent.document).where(EpcisEvent.declaration.is_(False))  # type: ignore[attr-defined]
    if merchant is not None:
        stmt = stmt.where(EpcisEvent.merchant_id == merchant)
    if start is not None:
        stmt = stmt.where(EpcisEvent.event_time >= start)
    if end is not None:
        stmt = stmt.where(EpcisEvent.event_time < end)
    return {event_id: dict(document) for event_id, document in session.execute(stmt)}
