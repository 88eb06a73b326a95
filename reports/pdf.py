"""The case report as a PDF: cover, summary, timeline vs SLA, trace, temperatures, affected
orders, actions, conclusions and the evidence appendix, in Chinese or English.

Pure: a `CaseReport` (reports.content) and the proof bundle bytes in, PDF bytes out. Text uses
reportlab's built-in CID font STSong-Light (Adobe-GB1): viewers supply the glyphs, so Chinese
shows everywhere without embedding a font, and Latin text in the same font extracts cleanly.
The proof bundle is attached as an embedded file (report-proofs.json) with pypdf after layout.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from pypdf import PdfReader, PdfWriter
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.tableofcontents import TableOfContents

from reports import charts
from reports.content import CaseReport, TemperatureFigure
from reports.wording import value, words

FONT = charts.FONT
BUNDLE_NAME = "report-proofs.json"
MAX_CHARTS = 8
MAX_DELIVERY_ROWS = 200
WIDTH = A4[0] - 36 * mm

pdfmetrics.registerFont(UnicodeCIDFont(FONT))

BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=7.5, leading=10)
MONO = ParagraphStyle("mono", parent=BODY, fontName="Courier", fontSize=7, leading=9)
H1 = ParagraphStyle("h1", parent=BODY, fontSize=20, leading=28, spaceAfter=10)
H2 = ParagraphStyle("h2", parent=BODY, fontSize=13, leading=18, spaceBefore=10, spaceAfter=6)
GRID = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f7")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _markup(text: str) -> str:
    """A heading's paragraph markup, as `_p` writes it."""
    return escape(charts.drawable(text)).replace("\n", "<br/>")


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    if style is not MONO:
        text = charts.drawable(text)
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _table(rows: Sequence[Sequence[object]], widths: Sequence[float] | None = None) -> Table:
    cells = [
        [c if isinstance(c, Flowable) else charts.drawable(str(c)) for c in row] for row in rows
    ]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(GRID)
    return table


class _Fmt:
    """Local-time formatting in the deployment's time zone."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)

    def __call__(self, moment: datetime | None) -> str:
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M") if moment else "-"


def qr_drawing(payload: str, size: float = 42 * mm) -> Drawing:
    widget = QrCodeWidget(payload, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


SECTIONS = (
    "summary",
    "timeline",
    "trace",
    "sources",
    "temperature",
    "affected",
    "actions",
    "conclusions",
    "appendix",
)
TOC_STYLE = ParagraphStyle("toc", parent=BODY, fontSize=8.5, leading=12)


def contents(w: Mapping[str, str]) -> TableOfContents:
    """The cover's table of contents: every section with the page it starts on (filled in by
    the second layout pass; primed with the titles so both passes paginate alike)."""
    toc = TableOfContents(levelStyles=[TOC_STYLE], dotsMinLevel=0, rightColumnWidth=20 * mm)
    toc.addEntries([(0, _markup(w[s]), 0) for s in SECTIONS])
    return toc


def _cover(
    r: CaseReport, w: Mapping[str, str], fmt: _Fmt, qr: str, toc: Flowable | None = None
) -> list[Flowable]:
    staff = "edition_staff_cluster" if r.kind == "cluster" else "edition_staff"
    edition = w[staff] if r.audience == "staff" else w["edition_merchant"]
    head = [[w["case"], r.number]]
    if r.kind == "cluster":
        head = [[w["cluster"], r.number], [w["cases"], _p(", ".join(r.cluster), SMALL)]]
    rows = [
        *head,
        [w["version"], str(r.version)],
        [w["generated"], fmt(r.generated_at)],
        [w["status"], _values(r.language, r.status)],
        [w["category"], _values(r.language, r.category)],
        [w["severity"], value(r.language, r.severity)],
        [w["opened"], fmt(r.opened_at)],
        [w["author"], r.author],
        [w["language"], "中文" if r.language.startswith("zh") else "English"],
        [w["edition"], edition],
    ]
    cover = Table(rows, colWidths=[45 * mm, WIDTH - 45 * mm])
    cover.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), FONT, 10.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 5)])
    )
    listed = [toc] if toc is not None else [_p(w[s], SMALL) for s in SECTIONS]
    return [
        Spacer(1, 8 * mm),
        _p(w["cluster_title"] if r.kind == "cluster" else w["title"], H1),
        _p(r.number, H2),
        Spacer(1, 6 * mm),
        cover,
        Spacer(1, 8 * mm),
        _p(w["contents"], H2),
        *listed,
        Spacer(1, 8 * mm),
        qr_drawing(qr),
        _p(qr, MONO),
        PageBreak(),
    ]


def _summary(r: CaseReport, w: Mapping[str, str], fmt: _Fmt) -> list[Flowable]:
    counts = {
        k: r.counts.get(k, 0)
        for k in (
            "n_orders",
            "n_merchants",
            "n_batches",
            "n_lots",
            "n_suppliers",
            "n_deliveries",
            "n_failed",
            "sla_met",
            "sla_total",
            "sla_breached",
        )
    }
    text = w["cluster_summary_text" if r.kind == "cluster" else "summary_text"].format(
        number=r.number,
        category=_values(r.language, r.category),
        severity=value(r.language, r.severity),
        opened=fmt(r.opened_at),
        status=_values(r.language, r.status),
        n_ill=r.n_ill,
        n_party=r.n_party,
        n_cases=len(r.cluster),
        cases=", ".join(r.cluster),
        **counts,
    )
    out: list[Flowable] = [_p(w["summary"], H2), _p(text)]
    if r.complainant:
        out += [
            _p(w["complainant"], H2),
            _table(
                [
                    [w["name"], w["phone"], w["email"]],
                    [
                        r.complainant.get("name") or "-",
                        r.complainant.get("phone") or "-",
                        r.complainant.get("email") or "-",
                    ],
                ]
            ),
        ]
    return out


def _timeline(r: CaseReport, w: Mapping[str, str], fmt: _Fmt) -> list[Flowable]:
    lang = r.language
    sla_rows: list[list[object]] = [
        [w["sla_target"], w["sla_budget"], w["sla_due"], w["sla_met_at"], w["sla_state"]]
    ]
    for s in r.sla:
        state = (
            "state_met"
            if s.met_at and not s.breached
            else "state_breached"
            if s.breached
            else "state_paused"
            if s.paused
            else "state_open"
        )
        target = f"{s.case} {value(lang, s.target)}".strip()
        sla_rows.append([target, s.minutes, fmt(s.due_at), fmt(s.met_at), w[state]])
    events: list[list[object]] = [[w["at"], w["event"], w["actor"], w["change"]]]
    for e in r.timeline:
        change = f"{value(lang, e.from_status)} → {value(lang, e.to_status)}" if e.to_status else ""
        events.append([fmt(e.at), value(lang, e.kind), e.actor, change])
    return [
        _p(w["timeline"], H2),
        _table(sla_rows),
        Spacer(1, 4 * mm),
        _table(events, [32 * mm, 38 * mm, 30 * mm, WIDTH - 100 * mm]),
    ]


def _trace(r: CaseReport, w: Mapping[str, str]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(90 * mm), _p(w["trace"], H2)]
    if r.trace is None or not r.trace.nodes:
        return [*out, _p(w["no_trace"])]
    return [*out, charts.trace_drawing(r.trace, width=WIDTH, max_height=150 * mm)]


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return "∞" if value == float("inf") else f"{value:.2f}"


def _share(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else f"{a}/{b}"


def _sources(r: CaseReport, w: Mapping[str, str]) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(60 * mm), _p(w["sources"], H2)]
    if r.cluster:
        out.append(_p(f"{w['cluster']}: {', '.join(r.cluster)}"))
    if len(r.onsets) >= 2:
        out += [
            _p(w["epicurve"], SMALL),
            charts.epicurve_drawing(list(r.onsets), width=WIDTH, height=40 * mm, tz=r.tz),
        ]
    if not r.ranking:
        return [*out, _p(w["no_ranking"])]
    rows: list[list[object]] = [
        [w["candidate"], w["ar_exposed"], w["ar_unexposed"], w["rr"], w["fisher"], w["explained"]]
    ]
    for c in r.ranking:
        explained = "-" if c.cases_explained is None else f"{100 * c.cases_explained:.0f}%"
        rows.append(
            [
                _p(f"{value(r.language, c.kind)}: {c.label}", SMALL),
                _share(c.exposed_cases, c.exposed_total),
                _share(c.unexposed_cases, c.unexposed_total),
                f"{_ratio(c.relative_risk)} ({_ratio(c.ci_low)}-{_ratio(c.ci_high)})",
                f"{c.fisher_p:.3g}",
                explained,
            ]
        )
    top = r.ranking[0]
    reading = w["reading"].format(
        label=top.label,
        a=top.exposed_cases,
        b=top.exposed_total,
        ar_e=_share(top.exposed_cases, top.exposed_total).split(" ")[-1].strip("()"),
        c=top.unexposed_cases,
        d=top.unexposed_total,
        ar_u=_share(top.unexposed_cases, top.unexposed_total).split(" ")[-1].strip("()"),
        rr=_ratio(top.relative_risk),
        p=f"{top.fisher_p:.3g}",
        explained="-" if top.cases_explained is None else f"{100 * top.cases_explained:.0f}%",
    )
    return [
        *out,
        _table(rows, [60 * mm, 24 * mm, 24 * mm, 30 * mm, 16 * mm, WIDTH - 154 * mm]),
        Spacer(1, 2 * mm),
        _p(reading),
    ]


def _temperatures(r: CaseReport, w: Mapping[str, str], fmt: _Fmt) -> list[Flowable]:
    out: list[Flowable] = [CondPageBreak(80 * mm), _p(w["temperature"], H2)]
    if not r.temperatures:
        return [*out, _p(w["no_readings"])]
    ranked = sorted(r.temperatures, key=lambda t: (t.verdict == "pass", t.delivery_id))
    for figure in ranked[:MAX_CHARTS]:
        out += [
            CondPageBreak(70 * mm),
            _p(_chart_caption(figure, w, r.language, fmt), SMALL),
            charts.temperature_drawing(
                figure, width=WIDTH, height=55 * mm, tz=r.tz, labels=dict(w)
            ),
        ]
    rows: list[list[object]] = [
        [w["delivery"], w["verdict"], w["readings"], w["min_max_mean"], w["minutes_outside"]]
    ]
    for t in ranked[:MAX_DELIVERY_ROWS]:
        rows.append(
            [
                f"#{t.delivery_id}",
                value(r.language, t.verdict),
                t.n_readings,
                _mmm(t),
                f"{t.minutes_outside:.0f}",
            ]
        )
    return [*out, Spacer(1, 3 * mm), _table(rows)]


def _mmm(t: TemperatureFigure) -> str:
    if t.min_c is None or t.max_c is None or t.mean_c is None:
        return "-"
    return f"{t.min_c:.1f} / {t.max_c:.1f} / {t.mean_c:.1f} °C"


def _chart_caption(t: TemperatureFigure, w: Mapping[str, str], lang: str, fmt: _Fmt) -> str:
    return (
        f"{w['delivery']} #{t.delivery_id} | {t.box_id} | {fmt(t.start)} - {fmt(t.end)} | "
        f"{w['verdict']}: {value(lang, t.verdict)} | {t.n_readings} {w['readings']} | "
        f"{w['min_max_mean']} {_mmm(t)} | {w['minutes_outside']} {t.minutes_outside:.0f}"
    )


def _affected(r: CaseReport, w: Mapping[str, str]) -> list[Flowable]:
    rows: list[list[object]] = [[w["merchant"], w["day"], w["orders"]]]
    rows += [[a.merchant, a.day.isoformat(), a.orders] for a in r.affected]
    total = sum(a.orders for a in r.affected)
    rows.append([w["total"], "", total])
    out: list[Flowable] = [_p(w["affected"], H2)]
    if r.affected_source:
        kind, _, label = r.affected_source.partition(" ")
        source = f"{value(r.language, kind)} {label}"
        out.append(_p(w["affected_from"].format(source=source, n=total)))
    return [*out, _p(w["no_personal"], SMALL), _table(rows)]


def _values(language: str, raw: str) -> str:
    """Comma-separated codes (a cluster's statuses or types) in the report's language."""
    return ", ".join(value(language, part) for part in raw.split(", "))


def _actions(r: CaseReport, w: Mapping[str, str], fmt: _Fmt) -> list[Flowable]:
    if not r.actions:
        return [_p(w["actions"], H2), _p(w["no_actions"])]
    rows: list[list[object]] = [[w["at"], w["action"], w["amount"]]]
    rows += [[fmt(a.at), value(r.language, a.kind), a.detail] for a in r.actions]
    return [_p(w["actions"], H2), _table(rows)]


def _conclusions(r: CaseReport, w: Mapping[str, str]) -> list[Flowable]:
    out: list[Flowable] = [_p(w["conclusions"], H2)]
    for key, text in (
        ("root_cause", r.root_cause),
        ("resolution", r.resolution),
        ("corrective_action", r.corrective_action),
    ):
        out.append(_p(f"{w[key]}: {text or w['not_recorded']}"))
    return out


def _appendix(r: CaseReport, w: Mapping[str, str], digest: str) -> list[Flowable]:
    rows: list[list[object]] = [[w["ledger_index"], w["record"], w["leaf_hash"]]]
    rows += [[c.index, _p(c.label, SMALL), _p(c.leaf_hash, MONO)] for c in r.cited]
    return [
        PageBreak(),
        _p(w["appendix"], H2),
        _p(w["how_to_verify"], SMALL),
        _p(w["checkpoint"], SMALL),
        _p(r.checkpoint, MONO),
        _p(w["public_key"], SMALL),
        _p(r.public_key, MONO),
        _p(f"{w['bundle_digest']}: {digest}", MONO),
        Spacer(1, 3 * mm),
        _p(w["cited"], SMALL),
        _table(rows, [20 * mm, 80 * mm, WIDTH - 100 * mm]),
    ]


def _page_decorator(r: CaseReport, w: Mapping[str, str]) -> Callable[[object, object], None]:
    def draw(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        page = canvas.getPageNumber()
        if page > 1:
            canvas.drawString(
                18 * mm, A4[1] - 12 * mm, f"{w['title']} | {r.number} | {w['version']} {r.version}"
            )
            canvas.line(18 * mm, A4[1] - 13.5 * mm, A4[0] - 18 * mm, A4[1] - 13.5 * mm)
        label = f"第 {page} 页" if r.language.startswith("zh") else f"{w['page']} {page}"
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, label)
        canvas.restoreState()

    return draw


def render_case_report(report: CaseReport, bundle: bytes, qr_payload: str) -> bytes:
    """The report's PDF with `bundle` (the proof bundle JSON) attached as report-proofs.json."""
    w, fmt = words(report.language), _Fmt(report.tz)
    digest = hashlib.sha256(bundle).hexdigest()
    toc = contents(w)
    story: list[Flowable] = [
        *_cover(report, w, fmt, qr_payload, toc),
        *_summary(report, w, fmt),
        *_timeline(report, w, fmt),
        *_trace(report, w),
        *_sources(report, w),
        *_temperatures(report, w, fmt),
        *_affected(report, w),
        *_actions(report, w, fmt),
        *_conclusions(report, w),
        *_appendix(report, w, digest),
    ]
    return build(
        story,
        title=f"{w['title']} {report.number} v{report.version}",
        decorate=_page_decorator(report, w),
        attachments={BUNDLE_NAME: bundle},
        toc_titles=frozenset(w[s] for s in SECTIONS),
    )


def render_weekly(
    *,
    language: str,
    period: str,
    generated: str,
    tables: Mapping[str, object],
    titles: Mapping[str, str],
) -> bytes:
    """The weekly campus summary: one titled table per dashboard figure (pandas frames)."""
    w = words(language)
    story: list[Flowable] = [
        _p(w["weekly_title"], H1),
        _p(f"{w['weekly_period']}: {period}"),
        _p(f"{w['generated']}: {generated}", SMALL),
    ]
    for name, frame in tables.items():
        story.append(_p(titles.get(name, name), H2))
        columns = list(frame.columns)  # type: ignore[attr-defined]
        rows = [columns, *[list(r) for r in frame.head(40).itertuples(index=False)]]  # type: ignore[attr-defined]
        story.append(_table(rows) if len(rows) > 1 else _p("-"))

    def decorate(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(18 * mm, A4[1] - 12 * mm, f"{w['weekly_title']} | {period}")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, f"{w['page']} {canvas.getPageNumber()}")
        canvas.restoreState()

    return build(story, title=f"{w['weekly_title']} {period}", decorate=decorate, attachments={})


def build(
    story: list[Flowable],
    *,
    title: str,
    decorate: Callable[[object, object], None],
    attachments: Mapping[str, bytes],
    toc_titles: frozenset[str] = frozenset(),
) -> bytes:
    """Lay out a story on A4 pages and attach files (embedded files in the PDF's name tree).

    With `toc_titles`, the story's table of contents is filled with the page each of those
    section headings lands on: two layout passes (reportlab's multiBuild)."""
    buf = io.BytesIO()
    doc = _Document(
        toc_titles,
        buf,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="Foodtrace",
        invariant=1,
    )
    if toc_titles:
        doc.multiBuild(story, onFirstPage=decorate, onLaterPages=decorate, maxPasses=4)
    else:
        doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    if not attachments:
        return buf.getvalue()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    for name, data in attachments.items():
        writer.add_attachment(name, data)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class _Document(SimpleDocTemplate):
    """A4 document that tells the table of contents where each section heading landed."""

    def __init__(self, toc_titles: frozenset[str], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.toc_titles = {_markup(t) for t in toc_titles}

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, Paragraph) and flowable.style is H2:
            text = flowable.text
            if text in self.toc_titles:
                self.notify("TOCEntry", (0, text, self.page))


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)
