"""How EPCIS 2.0 events become trace records (pure: no database).

- A receiving ObjectEvent (bizStep receiving/accepting/arriving, action ADD or OBSERVE) receives
  one ingredient lot per lot-level class in its quantityList (LGTIN URN or GS1 Digital Link with
  a lot, AI 10): the class is the traceability lot code; quantity and uom (UN/ECE Rec 20) are the
  lot's; the supplier is the first possessing/owning party or location in sourceList; the
  receiving location is bizLocation (else readPoint); the reference document is the first
  bizTransaction; ilmd bestBeforeDate/itemExpirationDate is the expiry date.
- A TransformationEvent produces one batch: its code is the first output identifier, its
  quantity the sum of the output quantities (or the number of output EPCs), its inputs every
  input EPC (1 each) and input class (with its quantity). Pattern classes (`idpat`) name no lot
  and are skipped with a warning.
- Every other event (aggregation, association, transaction, shipping, sensor reports) is
  captured as it is, its sensor reports kept with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from trace.columns import UNITS
from trace.epcis_model import NormalisedEvent, QuantityElement

UNIT_BY_UOM = {unit.uncefact: unit.code for unit in UNITS if unit.uncefact}
SUPPLIER_SOURCE_TYPES = ("possessing_party", "owning_party", "location")
_LGTIN = re.compile(r"urn:epc:class:lgtin:(\d+)\.(\d+)\.(.+)")
_EPC_GTIN = re.compile(r"urn:epc:(?:id|idpat):sgtin:(\d+)\.(\d+)\.(.+)")
_DIGITAL_LINK = re.compile(r"https?://[^/]+/01/(\d{14})(?:/(10|21)/([^/?#]+))?")


@dataclass(frozen=True, slots=True)
class Identified:
    """What an EPC or class identifier says: product key, and whether it names one lot."""

    product_code: str | None  # "gtin:<company prefix>.<item reference>" or "gtin:<GTIN-14>"
    is_lot: bool  # a lot-level class (LGTIN / Digital Link with AI 10)
    is_pattern: bool  # a pattern such as urn:epc:idpat:sgtin:...*


def identify(identifier: str) -> Identified:
    """Classify an EPC / EPC class (URN or GS1 Digital Link)."""
    if m := _LGTIN.fullmatch(identifier):
        return Identified(f"gtin:{m[1]}.{m[2]}", True, False)
    if m := _EPC_GTIN.fullmatch(identifier):
        return Identified(f"gtin:{m[1]}.{m[2]}", False, identifier.startswith("urn:epc:idpat"))
    if m := _DIGITAL_LINK.match(identifier):
        return Identified(f"gtin:{m[1]}", m[2] == "10", False)
    return Identified(None, False, "idpat" in identifier or identifier.endswith("*"))


@dataclass(frozen=True, slots=True)
class PlannedLot:
    """A lot a receiving event asks for (before suppliers and products are looked up)."""

    position: int
    element: int  # index in quantityList
    tlc: str
    product_code: str | None
    quantity: float | None
    uom: str | None
    supplier_refs: tuple[str, ...]
    location: str | None
    source_reference: str | None
    reference_document: tuple[str | None, str] | None
    expiry_date: date | None


@dataclass(frozen=True, slots=True)
class PlannedInput:
    """An input of a planned batch: identifier, quantity and uom (EPC instances: 1 each)."""

    code: str
    quantity: float | None
    uom: str | None
    field: str


@dataclass(frozen=True, slots=True)
class PlannedBatch:
    """A batch a TransformationEvent asks for."""

    position: int
    batch_code: str
    product_code: str | None
    quantity: float
    uom: str | None
    inputs: tuple[PlannedInput, ...]
    location: str | None
    reference_document: tuple[str | None, str] | None


@dataclass(slots=True)
class Plan:
    """The records one document asks for, and warnings about what it could not use."""

    lots: list[PlannedLot] = field(default_factory=list)
    batches: list[PlannedBatch] = field(default_factory=list)
    warnings: list[tuple[int, str, str]] = field(default_factory=list)  # position, field, why


def unit_of(uom: str | None) -> str | None:
    """Our unit code for a UN/ECE Rec 20 code (no uom: counted items); None if unknown."""
    if uom is None:
        return "each"
    return UNIT_BY_UOM.get(uom)


def plan_document(events: list[tuple[int, NormalisedEvent]]) -> Plan:
    """The lots and batches the events of a document ask for, in document order."""
    plan = Plan()
    for position, event in events:
        if event.error_declaration is not None:
            continue
        if event.type == "ObjectEvent" and event.tracking_event == "receiving":
            if event.action in ("ADD", "OBSERVE"):
                _plan_receiving(position, event, plan)
        elif event.type == "TransformationEvent":
            _plan_transformation(position, event, plan)
    return plan


def _expiry(event: NormalisedEvent) -> date | None:
    text = event.best_before_date
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _place(event: NormalisedEvent) -> str | None:
    return event.biz_location or event.read_point


def _plan_receiving(position: int, event: NormalisedEvent, plan: Plan) -> None:
    suppliers = tuple(i for t, i in event.sources if t in SUPPLIER_SOURCE_TYPES)
    locations = [i for t, i in event.sources if t == "location"]
    for epc in event.epcs:
        plan.warnings.append(
            (position, "epcList", f"{epc} identifies an item, not a lot: captured without a lot")
        )
    for index, element in enumerate(event.quantities):
        found = identify(element.epc_class)
        if not found.is_lot:
            plan.warnings.append(
                (position, f"quantityList[{index}]", f"{element.epc_class} names no lot")
            )
            continue
        plan.lots.append(
            PlannedLot(
                position=position,
                element=index,
                tlc=element.epc_class,
                product_code=found.product_code,
                quantity=element.quantity,
                uom=element.uom,
                supplier_refs=suppliers,
                location=_place(event),
                source_reference=locations[0] if locations else None,
                reference_document=event.biz_transactions[0] if event.biz_transactions else None,
                expiry_date=_expiry(event),
            )
        )


def _quantity(element: QuantityElement) -> float | None:
    return element.quantity


def _plan_transformation(position: int, event: NormalisedEvent, plan: Plan) -> None:
    inputs: list[PlannedInput] = [
        PlannedInput(epc, 1.0, None, f"inputEPCList[{i}]") for i, epc in enumerate(event.input_epcs)
    ]
    for i, element in enumerate(event.input_quantities):
        if identify(element.epc_class).is_pattern:
            plan.warnings.append(
                (
                    position,
                    f"inputQuantityList[{i}]",
                    f"{element.epc_class} is a pattern, not a lot",
                )
            )
            continue
        inputs.append(
            PlannedInput(
                element.epc_class, _quantity(element), element.uom, f"inputQuantityList[{i}]"
            )
        )
    outputs = [q.epc_class for q in event.output_quantities] + list(event.output_epcs)
    if not outputs:
        plan.warnings.append((position, "outputEPCList", "no output: captured without a batch"))
        return
    if event.output_quantities:
        quantity = sum(q.quantity or 0.0 for q in event.output_quantities) or 1.0
        uom = event.output_quantities[0].uom
    else:
        quantity, uom = float(len(event.output_epcs)), None
    plan.batches.append(
        PlannedBatch(
            position=position,
            batch_code=outputs[0],
            product_code=identify(outputs[0]).product_code,
            quantity=quantity,
            uom=uom,
            inputs=tuple(inputs),
            location=_place(event),
            reference_document=event.biz_transactions[0] if event.biz_transactions else None,
        )
    )
