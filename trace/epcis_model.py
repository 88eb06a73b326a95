"""GS1 EPCIS 2.0 events in normalised form: the plain data parsing produces and export reads.

Times are UTC, CBV values in their short form (`receiving`), temperatures in °C.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeAlias

EventType: TypeAlias = Literal[
    "ObjectEvent", "AggregationEvent", "TransformationEvent", "TransactionEvent", "AssociationEvent"
]
EVENT_TYPES: tuple[str, ...] = (
    "ObjectEvent",
    "AggregationEvent",
    "TransformationEvent",
    "TransactionEvent",
    "AssociationEvent",
)
ACTIONS = ("ADD", "OBSERVE", "DELETE")
# The EPCIS 2.0 standard JSON-LD context (EPCIS 2.0 §12.1).
EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
# Clock-skew allowance before an eventTime counts as "in the future" (our policy).
FUTURE_TOLERANCE = timedelta(minutes=5)


def cbv_prefixes(urn: str, web: str) -> tuple[str, ...]:
    """CBV 1.x URN, CBV 2.0 web URI and compact prefixes under which one vocabulary appears."""
    return (
        f"urn:epcglobal:cbv:{urn}:",
        f"https://ref.gs1.org/cbv/{web}-",
        f"https://gs1.org/voc/{web}-",
        f"cbv:{web}-",
        f"gs1:{web}-",
    )


VOCAB_PREFIXES: Mapping[str, tuple[str, ...]] = {
    "bizStep": cbv_prefixes("bizstep", "BizStep"),
    "disposition": cbv_prefixes("disp", "Disp"),
    "sdt": cbv_prefixes("sdt", "SDT"),
    "btt": cbv_prefixes("btt", "BTT"),
    "er": cbv_prefixes("er", "ER"),
    "sensor": ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "gs1:"),
}

RECEIVING_STEPS = frozenset({"receiving", "accepting", "arriving"})
SHIPPING_STEPS = frozenset({"shipping", "departing"})


class EpcisError(ValueError):
    """The bytes are not a JSON document at all."""


@dataclass(frozen=True, slots=True)
class EventError:
    """Why one event (position in eventList; None for the document) was rejected."""

    position: int | None
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class QuantityElement:
    """`{epcClass, quantity, uom}`; quantity None means a count of instances is not given."""

    epc_class: str
    quantity: float | None = None
    uom: str | None = None


@dataclass(frozen=True, slots=True)
class SensorReport:
    """One sensor report; Temperature values are in °C (`uom` CEL, `source_uom` as sent)."""

    type: str
    value: float | None = None
    min_value: float | None = None
    max_value: float | None = None
    mean_value: float | None = None
    uom: str | None = None
    source_uom: str | None = None
    time: datetime | None = None  # the report's time, else its sensorMetadata time
    exception: str | None = None
    device_id: str | None = None
    component: str | None = None
    string_value: str | None = None


@dataclass(frozen=True, slots=True)
class SensorElement:
    """sensorMetadata (device, times) and its reports."""

    reports: tuple[SensorReport, ...]
    device_id: str | None = None
    time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ErrorDeclaration:
    """This event is declared wrong; the corrective events replace it."""

    declaration_time: datetime
    reason: str | None = None
    corrective_event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NormalisedEvent:
    """One EPCIS event in normalised form: UTC times, short CBV names, °C temperatures.

    `epcs`/`quantities` hold epcList/quantityList (Object, Transaction) or
    childEPCs/childQuantityList (Aggregation, Association).
    """

    event_id: str
    type: EventType
    event_time: datetime
    event_time_zone_offset: str
    event_id_assigned: bool = False
    record_time: datetime | None = None
    action: str | None = None
    biz_step: str | None = None
    disposition: str | None = None
    read_point: str | None = None
    biz_location: str | None = None
    parent_id: str | None = None
    epcs: tuple[str, ...] = ()
    quantities: tuple[QuantityElement, ...] = ()
    input_epcs: tuple[str, ...] = ()
    input_quantities: tuple[QuantityElement, ...] = ()
    output_epcs: tuple[str, ...] = ()
    output_quantities: tuple[QuantityElement, ...] = ()
    transformation_id: str | None = None
    biz_transactions: tuple[tuple[str | None, str], ...] = ()  # (type, id)
    sources: tuple[tuple[str, str], ...] = ()  # (type, id)
    destinations: tuple[tuple[str, str], ...] = ()
    ilmd: Mapping[str, Any] = field(default_factory=dict)
    sensor_elements: tuple[SensorElement, ...] = ()
    error_declaration: ErrorDeclaration | None = None
    extensions: Mapping[str, Any] = field(default_factory=dict)  # vendor fields, e.g. ex:x
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def tracking_event(self) -> Literal["receiving", "shipping", "transformation", "other"]:
        """The FSMA 204 critical tracking event this event records, if any."""
        if self.type == "TransformationEvent":
            return "transformation"
        if self.biz_step in RECEIVING_STEPS:
            return "receiving"
        if self.biz_step in SHIPPING_STEPS:
            return "shipping"
        return "other"

    def ilmd_value(self, name: str) -> Any:
        """An ilmd value by local name, whatever its prefix (`cbvmda:lotNumber` → `lotNumber`)."""
        for key, value in self.ilmd.items():
            if local_name(key) == name:
                return value
        return None

    @property
    def lot_number(self) -> str | None:
        """ilmd lotNumber, if given."""
        value = self.ilmd_value("lotNumber")
        return None if value is None else str(value)

    @property
    def best_before_date(self) -> str | None:
        """ilmd bestBeforeDate (or itemExpirationDate), as given."""
        value = self.ilmd_value("bestBeforeDate") or self.ilmd_value("itemExpirationDate")
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """Accepted events, rejected ones with reasons, and the document's JSON-LD prefixes."""

    events: list[NormalisedEvent]
    errors: list[EventError]
    namespaces: Mapping[str, str] = field(default_factory=dict)
    creation_date: datetime | None = None
    positions: list[int] = field(default_factory=list)  # eventList position of each event


def local_name(key: str) -> str:
    """The local part of a prefixed or IRI key: `cbvmda:lotNumber` → `lotNumber`."""
    return re.split(r"[:#/]", key)[-1]
