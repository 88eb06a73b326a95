"""Reports: generate (async), follow progress, read, review and sign off; verify an upload.

Pages under /reports, JSON under /api/v1. Merchants see only merchant editions of their own
merchant's reports (never one with complainant details); the verification page is public.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from pydantic import BaseModel, Field

from accounts.models import Role
from reports import service
from reports.models import Report
from web.api import ApiModel, api_blueprint
from web.auth import current_user, public, roles_required
from web.db import get_session
from web.errors import ApiError, register_error
from web.i18n import N_

HOME_LINKS = {
    "admin": [
        (N_("Food-safety dashboard"), "/reports/dashboard"),
        (N_("Investigation reports"), "/reports/"),
        (N_("Verify a report"), "/reports/verify"),
    ],
    "desk": [(N_("Investigation reports"), "/reports/")],
    "merchant": [(N_("Investigation reports"), "/reports/")],
}
LABELS = {
    "queued": N_("Queued"),
    "rendering": N_("Rendering"),
    "ready": N_("Ready"),
    "failed": N_("Rendering failed"),
    "pending": N_("Awaiting review"),
    "approved": N_("Approved"),
    "sent_back": N_("Sent back"),
    "signed_off": N_("Signed off"),
    "staff": N_("Administrators' edition"),
    "merchant": N_("Merchant edition"),
    "comment": N_("Comment"),
    "approve": N_("Approve"),
    "send_back": N_("Send back"),
    "sign_off": N_("Sign off"),
}
STAFF = (Role.ADMIN, Role.DESK)
READERS = (Role.ADMIN, Role.DESK, Role.MERCHANT)
MAX_UPLOAD = 20 * 1024 * 1024

bp = Blueprint(
    "reports",
    __name__,
    url_prefix="/reports",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
api = api_blueprint(
    "reports_api", __name__, tag="reports", description="Investigation reports and their review"
)


class CasePath(BaseModel):
    case_id: int = Field(ge=1)


class ClusterPath(BaseModel):
    cluster_id: int = Field(ge=1)


class ReportPath(BaseModel):
    report_id: int = Field(ge=1)


class ReportIn(ApiModel):
    language: str = Field(default="zh-CN", description="zh-CN or en")
    audience: str = Field(default="staff", description="staff (with complainant) or merchant")


class ReviewIn(ApiModel):
    action: str = Field(description="comment, approve, send_back or sign_off")
    body: str = Field(default="", max_length=5000)


class ReportQuery(BaseModel):
    status: str | None = None
    review_status: str | None = None
    merchant_id: int | None = Field(default=None, ge=1)
    case_id: int | None = Field(default=None, ge=1)
    requested_from: str | None = Field(default=None, description="local date YYYY-MM-DD")
    requested_to: str | None = Field(default=None, description="local date YYYY-MM-DD, inclusive")


def caller() -> service.Caller:
    user = current_user()
    assert user is not None
    return service.Caller(f"user:{user.id}", user.role, user.merchant_id)


def _state() -> Any:
    return current_app.extensions["foodtrace"]


def _zone() -> ZoneInfo:
    return ZoneInfo(_state().settings.timezone)


def report_json(report: Report) -> dict[str, Any]:
    return {
        "id": report.id,
        "kind": report.kind,
        "case_id": report.case_id,
        "cluster_id": report.cluster_id,
        "case_number": report.case_number,
        "merchant_id": report.merchant_id,
        "language": report.language,
        "audience": report.audience,
        "has_complainant_details": report.has_complainant_details,
        "version": report.version,
        "status": report.status,
        "progress": report.progress,
        "error": report.error,
        "review_status": report.review_status,
        "sha256": report.sha256,
        "size": report.size,
        "pages": report.pages,
        "requested_by": report.requested_by,
        "requested_at": report.requested_at.isoformat(),
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "ledger_index": report.ledger_index,
        "pdf_url": url_for("reports_api.report_pdf", report_id=report.id)
        if report.status == "ready"
        else None,
    }


def _day(raw: str | None, name: str, *, end: bool = False) -> datetime | None:
    if not raw:
        return None
    try:
        day = datetime.strptime(raw, "%Y-%m-%d").date()
    except ValueError:
        raise ApiError(
            422, "invalid", "use YYYY-MM-DD", [{"field": name, "reason": "use YYYY-MM-DD"}]
        ) from None
    return datetime.combine(day, time(), _zone()) + timedelta(days=1 if end else 0)


def _filters(query: ReportQuery) -> service.ReportFilters:
    return service.ReportFilters(
        status=query.status or None,
        review_status=query.review_status or None,
        merchant_id=query.merchant_id,
        case_id=query.case_id,
        requested_from=_day(query.requested_from, "requested_from"),
        requested_to=_day(query.requested_to, "requested_to", end=True),
    )


def _idempotency_key() -> str | None:
    return request.headers.get("Idempotency-Key")


def _request(
    case_id: int, language: str, audience: str, idempotency_key: str | None = None
) -> Report:
    report = service.request_case_report(
        session=get_session(),
        case_id=case_id,
        language=language,
        audience=audience,
        caller=caller(),
        idempotency_key=idempotency_key,
        queue=_render,
    )
    return report


def _request_cluster(
    cluster_id: int, language: str, audience: str, idempotency_key: str | None = None
) -> Report:
    report = service.request_cluster_report(
        session=get_session(),
        cluster_id=cluster_id,
        language=language,
        audience=audience,
        caller=caller(),
        idempotency_key=idempotency_key,
        queue=_render,
    )
    return report


def _render(report_id: int) -> None:
    from app import enqueue
    from reports import tasks

    enqueue(tasks.render_report, report_id)


def _accepted(report: Report) -> Response:
    get_session().refresh(report)
    resp = current_app.response_class(
        response=current_app.json.dumps(report_json(report)),
        status=202,
        mimetype="application/json",
    )
    resp.headers["Location"] = url_for("reports_api.get_report", report_id=report.id)
    return resp


# ------------------------------------------------------------------------------------ API


@api.post(
    "/cases/<int:case_id>/reports",
    responses={202: None},
    summary="Generate a new version of a case's investigation report (asynchronous)",
)
@roles_required(*STAFF)
def create_report(path: CasePath, body: ReportIn):  # type: ignore[no-untyped-def]
    """A replayed Idempotency-Key (same requester, same request) returns the same version."""
    return _accepted(_request(path.case_id, body.language, body.audience, _idempotency_key()))


@api.post(
    "/clusters/<int:cluster_id>/reports",
    responses={202: None},
    summary="Generate a new version of a complaint cluster's report (asynchronous)",
)
@roles_required(*STAFF)
def create_cluster_report(path: ClusterPath, body: ReportIn):  # type: ignore[no-untyped-def]
    """The cluster's cases together; a replayed Idempotency-Key returns the same version."""
    return _accepted(
        _request_cluster(path.cluster_id, body.language, body.audience, _idempotency_key())
    )


@api.get("/reports", summary="Reports, newest first (merchants: their merchant editions)")
@roles_required(*READERS)
def list_reports(query: ReportQuery):  # type: ignore[no-untyped-def]
    rows = service.list_reports(session=get_session(), filters=_filters(query), caller=caller())
    return {"items": [report_json(r) for r in rows]}


@api.get("/reports/<int:report_id>", summary="A report version: status, progress, review")
@roles_required(*READERS)
def get_report(path: ReportPath):  # type: ignore[no-untyped-def]
    session = get_session()
    report = service.get_report(session=session, report_id=path.report_id, caller=caller())
    out = report_json(report)
    out["reviews"] = [
        {
            "action": r.action,
            "body": r.body,
            "actor": r.actor,
            "at": r.at.isoformat(),
            "ledger_index": r.ledger_index,
        }
        for r in service.reviews_of(session=session, report_id=report.id or 0)
    ]
    return out


@api.get("/reports/<int:report_id>/pdf", summary="The PDF of a rendered version")
@roles_required(*READERS)
def report_pdf(path: ReportPath):  # type: ignore[no-untyped-def]
    report, data = service.report_pdf(
        session=get_session(), report_id=path.report_id, caller=caller()
    )
    name = f"{report.case_number or 'report'}-v{report.version}-{report.language}.pdf"
    return Response(
        data,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}"',
            "X-Content-SHA256": report.sha256 or "",
            "Cache-Control": "private, no-store",
        },
    )


@api.post(
    "/reports/<int:report_id>/reviews",
    responses={201: None},
    summary="Review: comment, approve, send back or sign off (administrators)",
)
@roles_required(Role.ADMIN)
def add_review(path: ReportPath, body: ReviewIn):  # type: ignore[no-untyped-def]
    row = service.review(
        session=get_session(),
        report_id=path.report_id,
        action=body.action,
        body=body.body,
        caller=caller(),
    )
    report = service.get_report(session=get_session(), report_id=path.report_id)
    return {
        "id": row.id,
        "action": row.action,
        "ledger_index": row.ledger_index,
        "review_status": report.review_status,
    }, 201


@api.post(
    "/reports/verify",
    security=[],
    summary="Check an uploaded report PDF (or its report-proofs.json), record by record",
)
@public
def verify_api():  # type: ignore[no-untyped-def]
    report, checks = _verify_upload()
    return {
        "report": report,
        "ok": bool(checks) and all(c.ok for c in checks),
        "records": [
            {"label": c.label, "index": c.index, "ok": c.ok, "message": c.message} for c in checks
        ],
    }


def _verify_upload() -> tuple[dict[str, Any], list[Any]]:
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(
            422, "invalid", "attach the report as `file`", [{"field": "file", "reason": "required"}]
        )
    data = upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise ApiError(413, "too_large", "at most 20 MB", [{"field": "file", "reason": "size"}])
    return service.verify_upload(upload=data, key=_state().extras["ledger_key"])


# ---------------------------------------------------------------------------------- pages


@bp.get("/")
@roles_required(*READERS)
def list_page():  # type: ignore[no-untyped-def]
    args = request.args
    query = ReportQuery(
        status=args.get("status") or None,
        review_status=args.get("review_status") or None,
        merchant_id=int(args["merchant_id"]) if args.get("merchant_id", "").isdigit() else None,
        case_id=int(args["case_id"]) if args.get("case_id", "").isdigit() else None,
        requested_from=args.get("requested_from") or None,
        requested_to=args.get("requested_to") or None,
    )
    rows = service.list_reports(session=get_session(), filters=_filters(query), caller=caller())
    return render_template(
        "reports/list.html",
        reports=rows,
        query=query,
        zone=_zone(),
        clusters=_open_clusters() if current_user().role in STAFF else [],  # type: ignore[union-attr]
    )


def _open_clusters() -> list[tuple[Any, int]]:
    """Open complaint clusters with their number of cases, for the cluster report form."""
    try:
        from complaints import clusters
    except ImportError:  # clusters arrive with complaints part 2
        return []
    return clusters.list_clusters(session=get_session(), limit=50)


@bp.post("/cases/<int:case_id>")
@roles_required(*STAFF)
def create_page(case_id: int):  # type: ignore[no-untyped-def]
    report = _request(
        case_id, request.form.get("language", "zh-CN"), request.form.get("audience", "staff")
    )
    return redirect(url_for("reports.detail_page", report_id=report.id))


@bp.post("/clusters/<int:cluster_id>")
@roles_required(*STAFF)
def create_cluster_page(cluster_id: int):  # type: ignore[no-untyped-def]
    report = _request_cluster(
        cluster_id, request.form.get("language", "zh-CN"), request.form.get("audience", "staff")
    )
    return redirect(url_for("reports.detail_page", report_id=report.id))


@bp.post("/clusters")
@roles_required(*STAFF)
def create_cluster_form():  # type: ignore[no-untyped-def]
    """The list page's form: the cluster is chosen in the form, not the URL."""
    raw = request.form.get("cluster_id", "")
    if not raw.isdigit():
        raise service.ReportError("choose a cluster", field="cluster_id")
    return create_cluster_page(int(raw))


@bp.get("/<int:report_id>")
@roles_required(*READERS)
def detail_page(report_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    report = service.get_report(session=session, report_id=report_id, caller=caller())
    reviews = service.reviews_of(session=session, report_id=report_id)
    return render_template(
        "reports/detail.html", report=report, reviews=reviews, zone=_zone(), actions=service.MOVES
    )


@bp.post("/<int:report_id>/review")
@roles_required(Role.ADMIN)
def review_page(report_id: int):  # type: ignore[no-untyped-def]
    service.review(
        session=get_session(),
        report_id=report_id,
        action=request.form.get("action", ""),
        body=request.form.get("body", ""),
        caller=caller(),
    )
    return redirect(url_for("reports.detail_page", report_id=report_id))


@bp.route("/verify", methods=["GET", "POST"])
@public
def verify_page():  # type: ignore[no-untyped-def]
    result = None
    if request.method == "POST":
        report, checks = _verify_upload()
        result = {
            "report": report,
            "checks": checks,
            "ok": bool(checks) and all(c.ok for c in checks),
        }
    return render_template("reports/verify.html", result=result)


TABLE_TITLES = {
    "complaints_over_time": N_("Complaints per week and type"),
    "complaints_per_1000_orders": N_("Complaints per 1,000 orders by merchant"),
    "sla_compliance": N_("SLA targets met"),
    "cold_chain_by_merchant": N_("Cold-chain compliance by merchant"),
    "cold_chain_by_courier": N_("Cold-chain compliance by courier"),
    "open_clusters": N_("Open clusters"),
    "top_suspect_lots": N_("Top suspect lots"),
    "certificate_expiries": N_("Supplier certificates expiring within 60 days"),
}
BARS = {
    "complaints_per_1000_orders": ("merchant", "per_1000_orders"),
    "cold_chain_by_merchant": ("name", "percent_pass"),
    "cold_chain_by_courier": ("name", "percent_pass"),
}


def _bars(table: Any, label: str, column: str) -> list[dict[str, Any]]:
    """Bar lengths (0-300 px) for a small SVG chart of one numeric column."""
    values = [float(v) for v in table[column].tolist()][:15]
    top = max([*values, 1e-9])
    return [
        {"label": str(lab)[:24], "value": v, "width": round(300 * v / top, 1)}
        for lab, v in zip(table[label].tolist()[:15], values, strict=True)
    ]


@bp.get("/dashboard")
@roles_required(Role.ADMIN)
def dashboard_page():  # type: ignore[no-untyped-def]
    from reports import campus, dashboard

    args = request.args
    zone = _zone()
    today = datetime.now(zone).date()
    since = _day(args.get("since"), "since") or datetime.combine(
        today - timedelta(days=30), time(), zone
    )
    until = _day(args.get("until"), "until", end=True) or datetime.combine(
        today + timedelta(days=1), time(), zone
    )
    merchant = args.get("merchant_id", "")
    tables = campus.tables(
        session=get_session(),
        since=since,
        until=until,
        tz=str(zone),
        today=today,
        merchant_id=int(merchant) if merchant.isdigit() else None,
        profile=_state().settings.cold_chain_profile,
    )
    export = args.get("export")
    if export == "xlsx":
        return Response(
            dashboard.to_xlsx(tables),
            headers={"Content-Disposition": 'attachment; filename="foodtrace-dashboard.xlsx"'},
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if export == "csv":
        name = args.get("table", "")
        if name not in tables:
            raise ApiError(
                422,
                "invalid",
                "unknown table",
                [{"field": "table", "reason": f"one of {', '.join(tables)}"}],
            )
        return Response(
            dashboard.to_csv(tables[name]),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    bars = {
        name: _bars(tables[name], *spec) for name, spec in BARS.items() if not tables[name].empty
    }
    return render_template(
        "reports/dashboard.html",
        tables=tables,
        titles=TABLE_TITLES,
        bars=bars,
        since=since.date().isoformat(),
        until=(until - timedelta(days=1)).date().isoformat(),
        merchant=merchant,
        args=args,
    )


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"labels": LABELS}


def init_app(app: Flask) -> None:
    register_error(service.ReportNotFound, 404, "not_found")
    register_error(service.ClusterNotFound, 404, "not_found")
    register_error(service.ReportError, 422, "invalid")
    register_error(service.ReviewConflict, 409, "conflict")
    register_error(service.NotReady, 409, "not_ready")
    register_error(service.proofs.NotAReport, 422, "not_a_report")
    app.register_blueprint(bp)
    app.register_api(api)  # type: ignore[attr-defined]
