"""Report use cases: request a version, render it (the Celery task's body), read it, review
it, and check an uploaded report's proofs. Each function owns its transaction; every fact
(request, generated version with its SHA-256, review action) is a ledger entry in it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

import ledger
from columns import utcnow
from complaints import service as complaints
from evidence.service import LedgerKey, public_key_pem, sign_checkpoint
from reports import content, facts, pdf, proofs
from reports.models import AUDIENCES, LANGUAGES, Report, ReportFile, ReportReview

STAFF = frozenset({"admin", "desk"})
REVIEW_ACTIONS = ("comment", "approve", "send_back", "sign_off")
# action -> review statuses it may start from, and the status it leaves
MOVES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "comment": (("pending", "approved", "sent_back", "signed_off"), None),
    "approve": (("pending",), "approved"),
    "send_back": (("pending", "approved"), "sent_back"),
    "sign_off": (("approved",), "signed_off"),
}


class ReportNotFound(LookupError):
    """No report with that id (or not one the caller may see)."""


class ReportError(ValueError):
    """Bad input to a report use case; names the field."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class ReviewConflict(ValueError):
    """The review action does not apply to the report's current state."""


class NotReady(ValueError):
    """The report is not rendered (yet, or it failed)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: ledger actor string, role and, for merchants, their merchant."""

    actor: str
    role: str
    merchant_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReportFilters:
    status: str | None = None
    review_status: str | None = None
    merchant_id: int | None = None
    case_id: int | None = None
    kind: str | None = None
    requested_from: datetime | None = None
    requested_to: datetime | None = None


def request_case_report(
    *,
    session: Session,
    case_id: int,
    language: str,
    audience: str,
    caller: Caller,
    idempotency_key: str | None = None,
    queue: Callable[[int], object] | None = None,
) -> Report:
    """Queue a new version of a case's report (`queue` starts the render task). With an
    Idempotency-Key the caller already used for this request, that version is returned."""
    _check(language, audience, idempotency_key)
    replay = _replayed(session, caller, idempotency_key, ("case", case_id, language, audience))
    if replay is not None:
        return replay
    case = complaints.get_case(session=session, case_id=case_id, for_update=True)
    return _queue(
        session,
        Report(
            kind="case",
            case_id=case_id,
            case_number=case.number,
            merchant_id=case.merchant_id,
            language=language,
            audience=audience,
            has_complainant_details=audience == "staff",
            requested_by=caller.actor,
            idempotency_key=idempotency_key,
        ),
        subject={"case": case_id},
        queue=queue,
    )


class ClusterNotFound(LookupError):
    """No complaint cluster with that id."""


def cluster_label(cluster_id: int) -> str:
    """How a cluster report names its cluster (cover, list, file name)."""
    return f"CL-{cluster_id}"


def request_cluster_report(
    *,
    session: Session,
    cluster_id: int,
    language: str,
    audience: str,
    caller: Caller,
    idempotency_key: str | None = None,
    queue: Callable[[int], object] | None = None,
) -> Report:
    """Queue a new version of a complaint cluster's report (its cases together). A merchant
    edition is visible to a merchant only when every case of the cluster is about it."""
    from complaints import clusters

    _check(language, audience, idempotency_key)
    replay = _replayed(
        session, caller, idempotency_key, ("cluster", cluster_id, language, audience)
    )
    if replay is not None:
        return replay
    try:
        view = clusters.get_cluster(session=session, cluster_id=cluster_id)
    except clusters.ClusterNotFound as exc:
        raise ClusterNotFound(f"no cluster {cluster_id}") from exc
    from complaints.models import Cluster

    # versions of one cluster's report are numbered one at a time
    session.exec(select(Cluster).where(Cluster.id == cluster_id).with_for_update()).one()
    merchants = {case.merchant_id for case, _m in view.members}
    return _queue(
        session,
        Report(
            kind="cluster",
            cluster_id=cluster_id,
            case_number=cluster_label(cluster_id),
            merchant_id=merchants.pop() if len(merchants) == 1 else None,
            language=language,
            audience=audience,
            has_complainant_details=audience == "staff",
            requested_by=caller.actor,
            idempotency_key=idempotency_key,
        ),
        subject={"cluster": cluster_id},
        queue=queue,
    )


def _check(language: str, audience: str, idempotency_key: str | None) -> None:
    if language not in LANGUAGES:
        raise ReportError(f"language must be one of {', '.join(LANGUAGES)}", field="language")
    if audience not in AUDIENCES:
        raise ReportError(f"audience must be one of {', '.join(AUDIENCES)}", field="audience")
    if idempotency_key is not None and not (
        0 < len(idempotency_key) <= 200 and idempotency_key.isprintable()
    ):
        raise ReportError("1 to 200 printable characters", field="Idempotency-Key")


def _what(report: Report) -> tuple[str, int | None, str, str]:
    target = report.cluster_id if report.kind == "cluster" else report.case_id
    return (report.kind, target, report.language, report.audience)


def _replayed(
    session: Session,
    caller: Caller,
    key: str | None,
    what: tuple[str, int | None, str, str],
) -> Report | None:
    """The version this caller already requested with this key (None: a new request)."""
    if key is None:
        return None
    found = session.exec(
        select(Report).where(Report.requested_by == caller.actor, Report.idempotency_key == key)
    ).first()
    if found is not None and _what(found) != what:
        raise ReportError(
            "this Idempotency-Key was used for a different report request",
            field="Idempotency-Key",
        )
    return found


def _queue(
    session: Session,
    report: Report,
    subject: dict[str, int],
    queue: Callable[[int], object] | None,
) -> Report:
    """Number the version, write the row and its `report.requested` entry, commit; then hand
    the new version's id to `queue` (the render task), never a replayed one's."""
    target = Report.cluster_id if report.kind == "cluster" else Report.case_id
    latest = session.exec(
        select(func.max(Report.version)).where(
            Report.kind == report.kind,
            target == (report.cluster_id if report.kind == "cluster" else report.case_id),
            Report.language == report.language,
            Report.audience == report.audience,
        )
    ).one()
    report.version = int(latest or 0) + 1
    session.add(report)
    try:
        session.flush()
    except IntegrityError:  # a concurrent request with the same Idempotency-Key won
        session.rollback()
        caller = Caller(report.requested_by, "")
        found = _replayed(session, caller, report.idempotency_key, _what(report))
        if found is None:
            raise
        return found
    payload: dict[str, Any] = {
        "kind": report.kind,
        "language": report.language,
        "audience": report.audience,
        "version": report.version,
        "case_number": report.case_number,
        "merchant_id": report.merchant_id,
        "has_complainant_details": report.has_complainant_details,
        "requested_at": report.requested_at,
    }
    if report.idempotency_key is not None:
        payload["idempotency_key"] = report.idempotency_key
    entry = ledger.append(
        session,
        ledger.Event(
            "report.requested",
            payload,
            actor=report.requested_by,
            subject={"report": report.id, **subject},
        ),
    )
    report.request_index = entry.index
    session.commit()
    if queue is not None:
        queue(int(report.id or 0))
    return report


def get_report(*, session: Session, report_id: int, caller: Caller | None = None) -> Report:
    """The report; raises ReportNotFound (also for one the caller may not see)."""
    report = session.get(Report, report_id)
    if report is None or (caller is not None and not may_see(report, caller)):
        raise ReportNotFound(f"no report {report_id}")
    return report


def may_see(report: Report, caller: Caller) -> bool:
    """Staff see every report; a merchant only its own merchant editions, never one that
    carries complainant details; nobody else sees any."""
    if caller.role in STAFF:
        return True
    return (
        caller.role == "merchant"
        and caller.merchant_id is not None
        and report.merchant_id == caller.merchant_id
        and report.audience == "merchant"
        and not report.has_complainant_details
    )


def _set_progress(
    session: Session, report: Report, percent: int, status: str | None = None
) -> None:
    report.progress = percent
    if status:
        report.status = status
    session.add(report)
    session.commit()


def render_report(
    *,
    session: Session,
    report_id: int,
    key: LedgerKey,
    tz: str,
    profile: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Render a queued version: gather, prove, lay out, store, record its SHA-256. Idempotent:
    a version already rendered is returned as it is (re-generation makes a new version)."""
    report = get_report(session=session, report_id=report_id)
    if report.status == "ready":
        return report
    _set_progress(session, report, 5, "rendering")
    try:
        data = _render_case(session, report, key, tz, profile, now or utcnow())
    except Exception as exc:  # the outcome must be recorded, whatever it was
        session.rollback()
        report = get_report(session=session, report_id=report_id)
        report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
        report.finished_at = utcnow()
        session.add(report)
        session.commit()
        return report
    digest = hashlib.sha256(data).hexdigest()
    if session.get(ReportFile, digest) is None:
        session.add(ReportFile(sha256=digest, content=data))
    report.sha256, report.size, report.pages = digest, len(data), pdf.page_count(data)
    entry = ledger.append(
        session,
        ledger.Event(
            "report.generated",
            {
                "sha256": digest,
                "size": len(data),
                "pages": report.pages,
                "version": report.version,
                "language": report.language,
                "audience": report.audience,
            },
            actor=report.requested_by,
            subject={"report": report.id, **_subject(report)},
        ),
    )
    report.ledger_index = entry.index
    report.status, report.progress, report.finished_at = "ready", 100, utcnow()
    session.add(report)
    session.commit()
    return report


def _subject(report: Report) -> dict[str, int]:
    if report.kind == "cluster":
        return {"cluster": report.cluster_id or 0}
    return {"case": report.case_id or 0}


def _render_case(
    session: Session, report: Report, key: LedgerKey, tz: str, profile: str | None, now: datetime
) -> bytes:
    sign_checkpoint(session=session, key=key)  # every cited entry is covered by a checkpoint

    def progress(percent: int) -> None:
        _set_progress(session, report, percent)

    if report.kind == "cluster":
        assert report.cluster_id is not None
        gather: Callable[..., Any] = facts.gather_cluster
        target = {"cluster_id": report.cluster_id}
    else:
        assert report.case_id is not None
        gather, target = facts.gather_case, {"case_id": report.case_id}
    data, citations = gather(
        session=session,
        **target,
        language=report.language,
        version=report.version,
        audience=report.audience,
        author=report.requested_by,
        tz=tz,
        profile=profile,
        now=now,
        progress=progress,
    )
    public_key = key.signer().public_key
    bundles = [
        (label, ledger.proof_bundle(session, index, public_key)) for label, index in citations
    ]
    progress(60)
    document = proofs.bundle_document(
        report={
            "case": data.number,
            "version": report.version,
            "language": report.language,
            "audience": report.audience,
            "report_id": report.id,
        },
        records=bundles,
    )
    cited = tuple(content.Cited(label, b["index"], b["leaf_hash"]) for label, b in bundles)
    checkpoint = bundles[0][1]["checkpoint"] if bundles else ledger.latest_checkpoint(session).note  # type: ignore[union-attr]
    data = _replace(data, cited=cited, checkpoint=checkpoint, public_key=public_key_pem(key))
    qr = proofs.qr_payload(
        number=data.number, version=report.version, language=report.language, document=document
    )
    progress(70)
    return pdf.render_case_report(data, document, qr)


def _replace(data: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(data, **changes)


WEEKLY_TITLES = {
    "en": {
        "complaints_over_time": "Complaints per week and type",
        "complaints_per_1000_orders": "Complaints per 1,000 orders by merchant",
        "sla_compliance": "SLA targets met",
        "cold_chain_by_merchant": "Cold-chain compliance by merchant",
        "cold_chain_by_courier": "Cold-chain compliance by courier",
        "open_clusters": "Open clusters",
        "top_suspect_lots": "Top suspect lots",
        "certificate_expiries": "Supplier certificates expiring within 60 days",
    },
    "zh-CN": {
        "complaints_over_time": "每周各类投诉数",
        "complaints_per_1000_orders": "各商户每千单投诉数",
        "sla_compliance": "服务时限达成率",
        "cold_chain_by_merchant": "各商户冷链合规率",
        "cold_chain_by_courier": "各骑手冷链合规率",
        "open_clusters": "未结聚集",
        "top_suspect_lots": "高度可疑原料批次",
        "certificate_expiries": "60 天内到期的供应商证照",
    },
}


def weekly_summary(
    *,
    session: Session,
    tz: str,
    now: datetime | None = None,
    language: str = "zh-CN",
    profile: str | None = None,
) -> Report:
    """The summary of the last complete local week (Monday to Sunday), stored as a report
    version and recorded in the ledger; a week already summarised is returned as it is."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from reports import campus

    zone = ZoneInfo(tz)
    today = (now or utcnow()).astimezone(zone).date()
    monday = today - timedelta(days=today.weekday() + 7)
    since = datetime.combine(monday, time(), zone)
    until = since + timedelta(days=7)
    found = session.exec(
        select(Report).where(
            Report.kind == "weekly", Report.period_start == since, Report.language == language
        )
    ).first()
    if found is not None:
        return found
    tables = campus.tables(
        session=session, since=since, until=until, tz=tz, today=today, profile=profile
    )
    period = f"{monday.isoformat()} - {(monday + timedelta(days=6)).isoformat()}"
    data = pdf.render_weekly(
        language=language,
        period=period,
        generated=(now or utcnow()).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        tables=tables,
        titles=WEEKLY_TITLES[language],
    )
    digest = hashlib.sha256(data).hexdigest()
    if session.get(ReportFile, digest) is None:
        session.add(ReportFile(sha256=digest, content=data))
    report = Report(
        kind="weekly",
        language=language,
        audience="staff",
        version=1,
        status="ready",
        progress=100,
        review_status="pending",
        sha256=digest,
        size=len(data),
        pages=pdf.page_count(data),
        period_start=since,
        period_end=until,
        requested_by="system",
        finished_at=utcnow(),
    )
    session.add(report)
    session.flush()
    entry = ledger.append(
        session,
        ledger.Event(
            "report.generated",
            {
                "kind": "weekly",
                "sha256": digest,
                "size": len(data),
                "pages": report.pages,
                "version": report.version,
                "language": language,
                "audience": report.audience,
                "has_complainant_details": False,
                "period_start": since,
                "period_end": until,
                "requested_at": report.requested_at,
            },
            subject={"report": report.id},
        ),
    )
    report.ledger_index = report.request_index = entry.index
    session.commit()
    return report


def report_pdf(*, session: Session, report_id: int, caller: Caller) -> tuple[Report, bytes]:
    """The PDF of a rendered version the caller may see."""
    report = get_report(session=session, report_id=report_id, caller=caller)
    if report.status != "ready" or report.sha256 is None:
        raise NotReady(f"report {report_id} is {report.status}")
    file = session.get(ReportFile, report.sha256)
    if file is None or hashlib.sha256(file.content).hexdigest() != report.sha256:
        raise NotReady(f"report {report_id}'s file is missing or altered")
    return report, file.content


def list_reports(
    *, session: Session, filters: ReportFilters, caller: Caller, limit: int = 200
) -> list[Report]:
    """Reports matching the filters the caller may see, newest first."""
    f = filters
    conditions: list[Any] = []
    for column, value in (
        (Report.status, f.status),
        (Report.review_status, f.review_status),
        (Report.merchant_id, f.merchant_id),
        (Report.case_id, f.case_id),
        (Report.kind, f.kind),
    ):
        if value is not None:
            conditions.append(column == value)
    if f.requested_from is not None:
        conditions.append(col(Report.requested_at) >= f.requested_from)
    if f.requested_to is not None:
        conditions.append(col(Report.requested_at) < f.requested_to)
    if caller.role not in STAFF:
        conditions += [
            Report.merchant_id == caller.merchant_id,
            Report.audience == "merchant",
            col(Report.has_complainant_details).is_(False),
        ]
    rows = session.exec(
        select(Report).where(*conditions).order_by(col(Report.id).desc()).limit(limit)
    ).all()
    return [r for r in rows if may_see(r, caller)]


def review(
    *, session: Session, report_id: int, action: str, body: str, caller: Caller
) -> ReportReview:
    """An administrator's review action; each one a ledger entry."""
    if action not in MOVES:
        raise ReportError(f"action must be one of {', '.join(REVIEW_ACTIONS)}", field="action")
    body = (body or "").strip()
    if action in ("comment", "send_back") and not body:
        raise ReportError("say what needs to change", field="body")
    if len(body) > 5000:
        raise ReportError("at most 5,000 characters", field="body")
    report = session.exec(select(Report).where(Report.id == report_id).with_for_update()).first()
    if report is None:
        raise ReportNotFound(f"no report {report_id}")
    if report.status != "ready":
        raise ReviewConflict(f"report {report_id} is {report.status}, not ready for review")
    allowed, to = MOVES[action]
    if report.review_status not in allowed:
        raise ReviewConflict(
            f"cannot {action.replace('_', ' ')} a report that is "
            f"{report.review_status.replace('_', ' ')}"
        )
    row = ReportReview(
        report_id=report_id, action=action, body=body, actor=caller.actor, at=utcnow()
    )
    session.add(row)
    session.flush()
    entry = ledger.append(
        session,
        ledger.Event(
            "report.reviewed",
            {
                "action": action,
                "from": report.review_status,
                "to": to or report.review_status,
                "body": body,
                "sha256": report.sha256,
                "at": row.at,
            },
            actor=caller.actor,
            subject={"report": report.id, "review": row.id},
            personal=frozenset({"body"}),
        ),
    )
    row.ledger_index = entry.index
    if to is not None:
        report.review_status = to
        session.add(report)
    session.commit()
    return row


def reviews_of(*, session: Session, report_id: int) -> list[ReportReview]:
    return list(
        session.exec(
            select(ReportReview)
            .where(ReportReview.report_id == report_id)
            .order_by(col(ReportReview.id))
        ).all()
    )


def verify_upload(
    *, upload: bytes, key: LedgerKey
) -> tuple[dict[str, Any], list[proofs.RecordCheck]]:
    """Check every cited record's proof of an uploaded report (or proof document) against the
    deployment's published key."""
    return proofs.check(proofs.extract(upload), key.signer().public_key)


ProgressCallback = Callable[[int], None]
