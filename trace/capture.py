"""EPCIS 2.0 capture: store every valid event (with its sensor reports), and turn receiving and
transformation events into lots and batches (trace.epcis_mapping says how).

A document is an upload of kind `epcis` (idempotent by content digest); an event already
captured for the merchant (same eventID) is not captured again. All-or-nothing unless the
upload is `partial`: then events with errors are left out and the rest are captured.
An event carrying an errorDeclaration is captured as a declaration; the lots and batches made
from the declared event are put on hold with the declaration's reason.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

import ledger
from columns import utcnow
from trace import masterdata
from trace.amendments import apply_status
from trace.checks import check_productions, check_receipts
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.epcis import load_json, parse_document
from trace.epcis_export import export_event
from trace.epcis_mapping import Plan, PlannedBatch, PlannedLot, plan_document, unit_of
from trace.epcis_model import EpcisError, NormalisedEvent, SensorReport
from trace.imports import finish_upload
from trace.models import DishBatch, EpcisEvent, IngredientLot, Product, Supplier, Upload
from trace.problems import Problem, chunks
from trace.projections import EPCIS_CAPTURED
from trace.recording import insert_batches, insert_lots
from trace.service import DEFAULT_TZ, merchant_row

# The sensors domain may take EPCIS sensor reports: `ingest_epcis_reports(session=,
# merchant_id=, epcis_event_id=, event_id=, reports=[dict], actor=)` writes in the open
# transaction (never commits) and raises a ValueError subclass to refuse them.
SENSOR_HOOK = ("sensors.service", "ingest_epcis_reports")
Error = dict[str, Any]


@dataclass(slots=True)
class _Run:
    """One capture attempt over the events still in play."""

    events: dict[int, NormalisedEvent]
    errors: list[Error] = field(default_factory=list)
    warnings: list[Error] = field(default_factory=list)
    lots: dict[int, list[int]] = field(default_factory=dict)  # position → lot ids
    batches: dict[int, list[int]] = field(default_factory=dict)

    def fail(self, position: int | None, field_: str, reason: str, code: str) -> None:
        self.errors.append({"position": position, "field": field_, "reason": reason, "code": code})


def sensor_hook() -> Callable[..., Any] | None:
    """The sensors domain's ingest function for EPCIS sensor reports, if it has one."""
    module_name, name = SENSOR_HOOK
    if importlib.util.find_spec(module_name) is None:
        return None
    return getattr(importlib.import_module(module_name), name, None)


def report_dict(report: SensorReport) -> dict[str, Any]:
    """A sensor report as stored with its event (°C for temperatures)."""
    return {
        "type": report.type,
        "value": report.value,
        "min_value": report.min_value,
        "max_value": report.max_value,
        "mean_value": report.mean_value,
        "uom": report.uom,
        "source_uom": report.source_uom,
        "time": report.time.isoformat() if report.time else None,
        "exception": report.exception,
        "device_id": report.device_id,
        "component": report.component,
    }


def capture_upload(
    *, session: Session, upload: Upload, data: bytes, now: datetime, tz: str = DEFAULT_TZ
) -> Upload:
    """Capture the EPCIS document of an upload; records the outcome on the upload."""
    try:
        doc = load_json(data)
    except EpcisError as exc:
        return finish_upload(session, upload, 0, [_error(None, "", str(exc), "not_json")], {})
    parsed = parse_document(doc, now=now)
    document_errors = [
        _error(e.position, e.field, e.reason, "invalid_event") for e in parsed.errors
    ]
    events = dict(zip(parsed.positions, parsed.events, strict=True))
    total = len(events) + len({e["position"] for e in document_errors} - {None})
    done = _already_captured(session, upload.merchant_id, events)
    if document_errors and not upload.partial:
        upload.total_rows = total
        return finish_upload(session, upload, 0, document_errors, _result(done, _Run({}), {}))
    fresh = {p: e for p, e in events.items() if p not in done}
    while True:  # partial: leave out the events with errors until the rest is clean
        run = _attempt(session, upload, fresh, now, tz)
        if not run.errors or not upload.partial:
            break
        session.rollback()
        bad = {e["position"] for e in run.errors}
        document_errors += run.errors
        fresh = {p: e for p, e in fresh.items() if p not in bad}
    errors = document_errors + run.errors
    if errors and not upload.partial:
        session.rollback()
        upload.total_rows = total
        return finish_upload(session, upload, 0, errors, _result(done, run, {}))
    indexes = _store_events(session, upload, run)
    upload.total_rows = total
    return finish_upload(session, upload, len(indexes), errors, _result(done, run, indexes))


def _error(position: int | None, field_: str, reason: str, code: str) -> Error:
    return {"position": position, "field": field_, "reason": reason, "code": code}


def _already_captured(
    session: Session, merchant_id: int, events: dict[int, NormalisedEvent]
) -> dict[int, tuple[str, int | None]]:
    wanted = {(e.event_id, e.error_declaration is not None): p for p, e in events.items()}
    done: dict[int, tuple[str, int | None]] = {}
    for part in chunks(sorted({event_id for event_id, _ in wanted})):
        rows = session.execute(
            select(EpcisEvent.event_id, EpcisEvent.declaration, EpcisEvent.ledger_index).where(
                EpcisEvent.merchant_id == merchant_id,
                EpcisEvent.event_id.in_(part),  # type: ignore[attr-defined]
            )
        )
        for event_id, declaration, index in rows:
            position = wanted.get((event_id, bool(declaration)))
            if position is not None:
                done[position] = (event_id, index)
    return done


def _attempt(
    session: Session, upload: Upload, events: dict[int, NormalisedEvent], now: datetime, tz: str
) -> _Run:
    run = _Run(events)
    plan = plan_document(sorted(events.items()))
    run.warnings = [_error(p, f, why, "not_linked") for p, f, why in plan.warnings]
    merchant = merchant_row(session, upload.merchant_id)
    products = _products(session, plan, upload.uploaded_by)
    receipts, lot_plans = _receipts(session, plan, products, run)
    cleaned, problems = check_receipts(session, merchant, receipts, now=now, tz=tz)
    _problems(run, problems, lambda p: _lot_field(lot_plans[p.index], p))
    if run.errors:
        return run
    ids = insert_lots(
        session, upload.merchant_id, cleaned, actor=upload.uploaded_by, upload_id=upload.id
    )
    for planned, lot_id in zip(lot_plans, ids, strict=True):
        run.lots.setdefault(planned.position, []).append(lot_id)
    productions, batch_plans = _productions(plan, products, run)
    made, resolved, problems = check_productions(session, merchant, productions, now=now, tz=tz)
    _problems(run, problems, lambda p: _batch_field(batch_plans[p.index], p))
    if run.errors:
        return run
    ids = insert_batches(
        session, upload.merchant_id, made, resolved, actor=upload.uploaded_by, upload_id=upload.id
    )
    for planned, batch_id in zip(batch_plans, ids, strict=True):
        run.batches.setdefault(planned.position, []).append(batch_id)
    _declarations(session, upload, run)
    return run


def _problems(
    run: _Run, problems: Sequence[Problem], where: Callable[[Problem], tuple[int, str]]
) -> None:
    for problem in problems:
        position, field_ = where(problem)
        run.fail(position, field_, problem.reason, problem.error.__name__)


def _lot_field(planned: PlannedLot, problem: Problem) -> tuple[int, str]:
    names = {"received_at": "eventTime", "supplier": "sourceList", "location": "bizLocation"}
    default = f"quantityList[{planned.element}]"
    return planned.position, names.get(problem.field, default)


def _batch_field(planned: PlannedBatch, problem: Problem) -> tuple[int, str]:
    if problem.input_index is not None:
        return planned.position, planned.inputs[problem.input_index].field
    names = {"completed_at": "eventTime", "location": "bizLocation", "inputs": "inputEPCList"}
    return planned.position, names.get(problem.field, "outputEPCList")


def _products(session: Session, plan: Plan, actor: str) -> dict[str | None, int]:
    """Product ids for every product code the plan names (new codes become products)."""
    wanted = {(lot.product_code, "ingredient") for lot in plan.lots}
    wanted |= {(batch.product_code, "dish") for batch in plan.batches}
    codes = {code for code, _ in wanted if code}
    found: dict[str | None, int] = {}
    for part in chunks(sorted(codes)):
        rows = session.execute(select(Product.code, Product.id).where(Product.code.in_(part)))  # type: ignore[union-attr]
        found.update({code: pid for code, pid in rows})
    for code, category in sorted(wanted, key=lambda w: (w[0] or "", w[1])):
        if code not in found:
            name = code or "Unidentified EPCIS product"
            existing = session.execute(select(Product.id).where(Product.name == name)).scalar()
            found[code] = (
                existing
                or masterdata.add_product(
                    session, actor, name=name, code=code, category=category
                ).id
            )  # type: ignore[assignment]
    return found


def _suppliers(session: Session, refs: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(sorted(refs)):
        rows = session.execute(
            select(Supplier.id, Supplier.identifier, Supplier.licence_number).where(
                Supplier.identifier.in_(part) | Supplier.licence_number.in_(part)  # type: ignore[union-attr,attr-defined]
            )
        )
        for sid, identifier, licence in rows:
            found.update({identifier: sid, licence: sid})
    return found


def _receipts(
    session: Session, plan: Plan, products: dict[str | None, int], run: _Run
) -> tuple[list[LotReceipt], list[PlannedLot]]:
    suppliers = _suppliers(session, {ref for lot in plan.lots for ref in lot.supplier_refs})
    receipts, kept = [], []
    for planned in plan.lots:
        event = run.events[planned.position]
        where = f"quantityList[{planned.element}]"
        unit = unit_of(planned.uom)
        supplier = next((suppliers[r] for r in planned.supplier_refs if r in suppliers), None)
        if planned.supplier_refs and supplier is None:
            refs = ", ".join(planned.supplier_refs)
            run.fail(
                planned.position,
                "sourceList",
                f"no registered supplier is {refs}",
                "UnknownReference",
            )
        elif planned.quantity is None:
            run.fail(
                planned.position,
                f"{where}.quantity",
                "a received lot needs a quantity",
                "InvalidRecord",
            )
        elif unit is None:
            run.fail(
                planned.position,
                f"{where}.uom",
                f"unit {planned.uom} is not one we record",
                "InvalidRecord",
            )
        else:
            document = planned.reference_document
            receipts.append(
                LotReceipt(
                    tlc=planned.tlc,
                    product_id=products[planned.product_code],
                    quantity=planned.quantity,
                    unit=unit,
                    received_at=event.event_time,
                    supplier_id=supplier,
                    tlc_source_reference=planned.source_reference,
                    location=planned.location,
                    reference_document_type=(document[0] or "bizTransaction") if document else None,
                    reference_document_number=document[1] if document else None,
                    expiry_date=planned.expiry_date,
                    epcis_event_id=event.event_id,
                )
            )
            kept.append(planned)
    return receipts, kept


def _productions(
    plan: Plan, products: dict[str | None, int], run: _Run
) -> tuple[list[BatchProduction], list[PlannedBatch]]:
    productions, kept = [], []
    for planned in plan.batches:
        event = run.events[planned.position]
        inputs = []
        for item in planned.inputs:
            unit = unit_of(item.uom)
            if item.quantity is None or unit is None:
                run.fail(
                    planned.position,
                    item.field,
                    "an input needs a quantity in a known unit",
                    "InvalidRecord",
                )
                continue
            inputs.append(InputUse(quantity=item.quantity, unit=unit, code=item.code))
        unit = unit_of(planned.uom)
        if unit is None:
            run.fail(
                planned.position,
                "outputQuantityList",
                f"unit {planned.uom} is not one we record",
                "InvalidRecord",
            )
            continue
        document = planned.reference_document
        productions.append(
            BatchProduction(
                batch_code=planned.batch_code,
                product_id=products[planned.product_code],
                quantity=planned.quantity,
                unit=unit,
                completed_at=event.event_time,
                inputs=tuple(inputs),
                location=planned.location,
                reference_document_type=(document[0] or "bizTransaction") if document else None,
                reference_document_number=document[1] if document else None,
                epcis_event_id=event.event_id,
            )
        )
        kept.append(planned)
    return productions, kept


def _declarations(session: Session, upload: Upload, run: _Run) -> None:
    """Hold the lots and batches made from events that these events declare erroneous."""
    for position, event in sorted(run.events.items()):
        declaration = event.error_declaration
        if declaration is None:
            continue
        reason = f"EPCIS error declaration ({declaration.reason or 'no reason given'})"
        if declaration.corrective_event_ids:
            reason += "; corrected by " + ", ".join(declaration.corrective_event_ids)
        held = 0
        for model in (IngredientLot, DishBatch):
            rows = session.execute(
                select(model).where(
                    model.merchant_id == upload.merchant_id,  # type: ignore[attr-defined]
                    model.epcis_event_id == event.event_id,  # type: ignore[attr-defined]
                )
            ).scalars()
            for row in rows:
                if row.status == "active":
                    apply_status(
                        session,
                        upload.uploaded_by,
                        row,
                        "hold",
                        reason[:500],
                        at=declaration.declaration_time,
                    )
                    held += 1
        if not held:
            run.warnings.append(
                _error(
                    position,
                    "errorDeclaration",
                    "no active lot or batch was made from the declared event",
                    "not_linked",
                )
            )


def _store_events(session: Session, upload: Upload, run: _Run) -> dict[int, int]:
    """Write one epcis_events row and `trace.epcis_captured` entry per event; position → index."""
    positions = sorted(run.events)
    if not positions:
        return {}
    table = EpcisEvent.__table__  # type: ignore[attr-defined]
    captured = utcnow()
    values = []
    for position in positions:
        event = run.events[position]
        values.append(
            {
                "merchant_id": upload.merchant_id,
                "event_id": event.event_id,
                "declaration": event.error_declaration is not None,
                "event_type": event.type,
                "biz_step": event.biz_step,
                "event_time": event.event_time,
                "document": export_event(event),
            }
        )
    reports = {
        p: [report_dict(r) for e in run.events[p].sensor_elements for r in e.reports]
        for p in positions
    }
    ids = list(
        session.execute(
            insert(table).returning(table.c.id, sort_by_parameter_order=True),
            [
                {**v, "sensor_reports": reports[p], "upload_id": upload.id, "captured_at": captured}
                for p, v in zip(positions, values, strict=True)
            ],
        ).scalars()
    )
    entries = ledger.append_many(
        session,
        [
            ledger.Event(
                type=EPCIS_CAPTURED,
                actor=upload.uploaded_by,
                subject={
                    "epcis_event": row_id,
                    "merchant": upload.merchant_id,
                    "lots": run.lots.get(p, []),
                    "batches": run.batches.get(p, []),
                },
                payload=v,
            )
            for row_id, p, v in zip(ids, positions, values, strict=True)
        ],
    )
    session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(ledger_index=bindparam("idx")),
        [{"row_id": i, "idx": e.index} for i, e in zip(ids, entries, strict=True)],
    )
    hook = sensor_hook()
    for row_id, position in zip(ids, positions, strict=True):
        if hook is not None and reports[position]:
            hook(
                session=session,
                merchant_id=upload.merchant_id,
                epcis_event_id=row_id,
                event_id=run.events[position].event_id,
                reports=reports[position],
                actor=upload.uploaded_by,
            )
    return {p: e.index for p, e in zip(positions, entries, strict=True)}


def _result(
    done: dict[int, tuple[str, int | None]], run: _Run, indexes: dict[int, int]
) -> dict[str, Any]:
    captured = [
        {
            "position": p,
            "event_id": run.events[p].event_id,
            "ledger_index": index,
            "lot_ids": run.lots.get(p, []),
            "batch_ids": run.batches.get(p, []),
            "already_captured": False,
        }
        for p, index in sorted(indexes.items())
    ]
    captured += [
        {
            "position": p,
            "event_id": event_id,
            "ledger_index": index,
            "lot_ids": [],
            "batch_ids": [],
            "already_captured": True,
        }
        for p, (event_id, index) in sorted(done.items())
    ]
    captured.sort(key=lambda c: c["position"])
    return {"captured": captured, "warnings": run.warnings}
