"""What a case report says, as plain data: gathered by reports.facts, drawn by reports.pdf.

Everything here is already decided (which records are cited, which personal data is shown):
the PDF layout only formats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class TimelineRow:
    at: datetime
    kind: str
    actor: str
    from_status: str | None = None
    to_status: str | None = None


@dataclass(frozen=True, slots=True)
class SlaRow:
    target: str
    minutes: int
    due_at: datetime
    met_at: datetime | None
    breached: bool
    paused: bool
    case: str = ""  # the case number, in a cluster report


@dataclass(frozen=True, slots=True)
class TraceNode:
    kind: str
    id: str
    label: str
    depth: int
    ledger_index: int | None = None


@dataclass(frozen=True, slots=True)
class TraceFigure:
    """A backward trace from the case's order lines: nodes with hop depth and edges."""

    nodes: tuple[TraceNode, ...]
    edges: tuple[tuple[tuple[str, str], tuple[str, str]], ...]


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime
    peak_c: float | None = None


@dataclass(frozen=True, slots=True)
class TemperatureFigure:
    """One delivery's readings with the judge's verdict, thresholds, excursions and gaps."""

    delivery_id: int
    order_id: int
    box_id: str
    start: datetime
    end: datetime
    points: tuple[tuple[datetime, float], ...]
    low_c: float | None
    high_c: float | None
    verdict: str
    n_readings: int
    min_c: float | None
    max_c: float | None
    mean_c: float | None
    minutes_outside: float
    excursions: tuple[Span, ...] = ()
    gaps: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class AffectedRow:
    merchant: str
    day: date
    orders: int


@dataclass(frozen=True, slots=True)
class ActionRow:
    at: datetime
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class RankRow:
    """One candidate source from complaints.investigation (attack-rate table row)."""

    kind: str
    label: str
    exposed_cases: int
    exposed_total: int
    unexposed_cases: int
    unexposed_total: int
    relative_risk: float | None
    ci_low: float | None
    ci_high: float | None
    fisher_p: float
    cases_explained: float | None


@dataclass(frozen=True, slots=True)
class Cited:
    """A record the report relies on: its label and ledger entry (index, leaf hash)."""

    label: str
    index: int
    leaf_hash: str


@dataclass(frozen=True, slots=True)
class CaseReport:
    case_id: int
    number: str
    language: str
    version: int
    audience: str
    generated_at: datetime
    author: str
    status: str
    category: str
    severity: str
    opened_at: datetime
    n_party: int
    n_ill: int
    tz: str
    timeline: tuple[TimelineRow, ...] = ()
    sla: tuple[SlaRow, ...] = ()
    trace: TraceFigure | None = None
    temperatures: tuple[TemperatureFigure, ...] = ()
    affected: tuple[AffectedRow, ...] = ()
    actions: tuple[ActionRow, ...] = ()
    resolution: str | None = None
    root_cause: str | None = None
    corrective_action: str | None = None
    complainant: dict[str, str] | None = None  # staff edition only
    cluster: tuple[str, ...] = ()  # case numbers of the case's cluster (itself included)
    ranking: tuple[RankRow, ...] = ()
    onsets: tuple[datetime, ...] = ()  # the cluster's onsets, for the epidemic curve
    cited: tuple[Cited, ...] = ()
    checkpoint: str = ""
    public_key: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    kind: str = "case"  # or "cluster": the cases of a complaint cluster together
    affected_source: str = ""  # cluster: the ranked source whose forward trace gave `affected`
