"""Complaint desk pages: case list, intake form, case page, SLA overview and compliance,
surveys; the student's report form and "my cases"; the merchant's pseudonymous list.

The JSON API lives in complaints/api/views.py; `init_app` registers both and maps the domain
errors. Helpers shared with the API (viewer, case bundle, message texts) are defined here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from werkzeug.datastructures import MultiDict

from accounts.models import Role, User
from complaints import (
    attachments,
    casework,
    clusters,
    deadlines,
    documents,
    incubation,
    intake,
    investigation,
    notices,
    payouts,
    privacy,
    records,
    service,
    survey_uploads,
    traceback,
    workflow,
)
from complaints.compensation import (
    CompensationError,
    fen_to_yuan,
    statutory_damages,
    yuan_to_fen,
)
from complaints.forms import intake_from_form, mapping_from_form, whole
from complaints.labels import LABELS, MESSAGE_TEXTS
from complaints.models import Case, CaseEvent, Feedback, Message, Notice
from complaints.payments import PaymentFailed
from complaints.refunds import OrdersPayments
from complaints.sla import default_policies
from complaints.survey import SurveyError
from orders import service as orders_service
from trace.access import Viewer as TraceViewer
from web.auth import current_user, roles_required
from web.db import get_session
from web.i18n import N_

# Links this domain adds to each role's home page (collected by web.factory).
HOME_LINKS = {
    "desk": [
        (N_("Complaint cases"), "/complaints/"),
        (N_("SLA overview"), "/complaints/sla"),
        (N_("Food-history surveys"), "/complaints/surveys"),
        (N_("Case clusters"), "/complaints/clusters"),
    ],
    "admin": [
        (N_("Complaint cases"), "/complaints/"),
        (N_("SLA compliance"), "/complaints/compliance"),
    ],
    "student": [
        (N_("Report a problem"), "/complaints/report"),
        (N_("My reports"), "/complaints/mine"),
        (N_("Food safety notices"), "/complaints/notices"),
    ],
    "merchant": [(N_("Complaints about my food"), "/complaints/merchant")],
}

bp = Blueprint(
    "complaints",
    __name__,
    url_prefix="/complaints",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
STAFF = (Role.ADMIN, Role.DESK)
SLOT = "NOTICE-TOKEN"  # stands for each notice's token in the survey address


def label(value: str | None) -> str:
    """The translated label of a vocabulary value (the value itself when it has none)."""
    if value is None:
        return ""
    return _(LABELS[value]) if value in LABELS else value


# --------------------------------------------------------------------------- shared helpers


def settings() -> Any:
    """The deployment's settings."""
    return current_app.extensions["foodtrace"].settings


def tz() -> ZoneInfo:
    """The deployment's time zone."""
    return ZoneInfo(settings().timezone)


def attachments_folder() -> Path:
    """Where photos are stored."""
    return Path(settings().instance_path) / "attachments"


def surveys_folder() -> Path:
    """Where survey files are stored."""
    return Path(settings().instance_path) / "surveys"


def me() -> User:
    """The signed-in user (role checks ran before the view)."""
    user = current_user()
    assert user is not None and user.id is not None
    return user


def actor() -> str:
    """The ledger actor of the signed-in user."""
    return f"user:{me().id}"


def trace_viewer() -> TraceViewer:
    """The signed-in user as the trace module sees them."""
    user = me()
    return TraceViewer(actor=actor(), role=str(user.role), merchant_id=user.merchant_id)


def viewer() -> privacy.Viewer:
    """The signed-in user as privacy.py sees them."""
    user = me()
    return privacy.Viewer(user.role, user.id, user.merchant_id)


def visible_case(session: Session, case_id: int) -> tuple[Case, dict[str, Any]]:
    """The case and this viewer's view of it; CaseNotFound when they may not see it (so a
    student or merchant cannot even learn that the case exists)."""
    case = service.get_case(session=session, case_id=case_id)
    orders = records.order_ids_of(session, [case_id])[case_id]
    view = privacy.case_view(documents.case_document(case, orders), viewer())
    if view is None:
        raise service.CaseNotFound(f"no case {case_id}")
    return case, view


def message_text(message: Message, number: str) -> str:
    """An outbox message as its reader sees it, in their language."""
    if message.kind == "reply":
        return message.body
    template = MESSAGE_TEXTS.get(message.kind)
    if template is None:
        return message.body
    return _(template, number=number, days=default_policies().appeal_days)


def case_bundle(
    session: Session, case_id: int, attachment_url: Callable[[int, int], str]
) -> tuple[Case, dict[str, Any]]:
    """A case with what the viewer may see around it: for staff the timeline, SLA clocks,
    notifications, photos and compensation; for the complainant the visible timeline, photos
    and messages; for a merchant the pseudonymous case alone."""
    case, view = visible_case(session, case_id)
    who = viewer()
    if who.role == Role.MERCHANT:
        return case, view
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id)
        .order_by(col(CaseEvent.at), col(CaseEvent.id))
    ).all()
    view["events"] = privacy.visible_events([documents.event_document(e) for e in events], who)
    view["attachments"] = [
        documents.attachment_document(a, attachment_url(case_id, a.id or 0))
        for a in attachments.list_attachments(session=session, case_id=case_id)
    ]
    if who.role == Role.STUDENT:
        inbox = session.exec(
            select(Message)
            .where(
                Message.case_id == case_id,
                Message.channel == "in_app",
                Message.kind != "exposure_notice",  # notices to other customers
            )
            .order_by(col(Message.created_at))
        ).all()
        view["messages"] = [
            documents.message_document(m, message_text(m, case.number)) for m in inbox
        ]
        return case, view
    view["sla"] = documents.sla_document(deadlines.sla_of(session=session, case=case))
    view["notifications"] = [
        documents.notification_document(n)
        for n in deadlines.notifications_of(session=session, case_id=case_id)
    ]
    view["compensations"] = [
        documents.compensation_document(c)
        for c in payouts.list_compensations(session=session, case_id=case_id)
    ]
    view["traceback"] = traceback.case_traceback(
        session,
        view.get("order_ids") or [],
        viewer=trace_viewer(),
        profile=getattr(settings(), "cold_chain_profile", None),
    )
    member = clusters.cluster_of(session, case_id)
    view["cluster"] = (
        None if member is None else {"id": member.cluster_id, "shared": list(member.shared)}
    )
    return case, view


def attachment_api_url(case_id: int, attachment_id: int) -> str:
    """Where the API serves a photo."""
    return url_for("complaints_api.get_attachment", case_id=case_id, attachment_id=attachment_id)


def local(value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime (or RFC 3339 text) in the deployment's time zone."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(tz()).strftime(fmt)


def duration(seconds: float) -> str:
    """Seconds as "2 h 05 min" (or "12 min")."""
    minutes = int(abs(seconds) // 60)
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return _("%(d)s d %(h)s h", d=hours // 24, h=hours % 24)
    return _("%(h)s h %(m)02d min", h=hours, m=minutes) if hours else _("%(m)s min", m=minutes)


def clock_state(target: dict[str, Any]) -> str:
    """CSS state of an SLA clock: met, breached, warning, paused or running."""
    if target["met_at"]:
        return "breached" if target["breached"] else "met"
    if target["breached"]:
        return "breached"
    if target["paused"]:
        return "paused"
    return "warning" if target["warning"] else "running"


@bp.app_template_global()
def complaint_label(value: str | None) -> str:
    """Templates: the translated label of a vocabulary value."""
    return label(value)


@bp.app_template_filter("local_time")
def local_time(value: datetime | str | None) -> str:
    """Templates: a time in the deployment's zone."""
    return local(value)


@bp.app_template_filter("time_left")
def time_left(seconds: float) -> str:
    """Templates: remaining (or overdue) time in words."""
    return duration(seconds)


# --------------------------------------------------------------------------- form parsing


def _form_context(**extra: Any) -> dict[str, Any]:
    return {
        "categories": intake.CATEGORIES,
        "channels": intake.DESK_CHANNELS,
        "symptoms": intake.SYMPTOMS,
        "medical_care": intake.MEDICAL_CARE,
        "remedies": intake.REMEDIES,
        "age_bands": intake.AGE_BANDS,
        "sexes": intake.SEXES,
        "errors": {},
        "form": MultiDict(),
        **extra,
    }


def _errors(exc: intake.IntakeError) -> dict[str, str]:
    return {p["field"].split(".")[0]: p["reason"] for p in reversed(exc.details)}


# --------------------------------------------------------------------------- desk pages


@bp.get("/")
@roles_required(*STAFF)
def desk_cases():  # type: ignore[no-untyped-def]
    args = request.args
    filters = service.CaseFilters(
        status=args.get("status") or None,
        severity=args.get("severity") or None,
        category=args.get("category") or None,
        assignee_id=_page_int(args.get("assignee")),
        merchant_id=_page_int(args.get("merchant_id")),
    )
    page = service.list_cases(
        session=get_session(), filters=filters, page=_page_int(args.get("page")) or 1
    )
    return render_template(
        "complaints/list.html",
        page=page,
        args=args,
        statuses=workflow.STATUSES,
        severities=("critical", "high", "normal", "low"),
        categories=intake.CATEGORIES,
        desk_users=_desk_users(),
        alerts=clusters.alerts(session=get_session()),
    )


def _page_int(raw: str | None) -> int | None:
    value = whole(raw)
    return value if isinstance(value, int) and value >= 0 else None


def _desk_users() -> list[User]:
    stmt = select(User).where(col(User.role).in_(("desk", "admin")), User.is_active == True)  # noqa: E712
    return list(get_session().exec(stmt.order_by(col(User.email))).all())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*STAFF)
def new_case():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("complaints/new.html", **_form_context())
    session = get_session()
    try:
        opened = service.open_case(
            session=session,
            data=intake_from_form(request.form, student=False, zone=tz()),
            actor=actor(),
            timezone=settings().timezone,
        )
    except intake.IntakeError as exc:
        session.rollback()
        html = render_template(
            "complaints/new.html", **_form_context(errors=_errors(exc), form=request.form)
        )
        return html, 422
    flash(_("Case %(number)s opened.", number=opened.case.number))
    return redirect(url_for("complaints.case_page", case_id=opened.case.id), 303)


@bp.get("/cases/<int:case_id>")
@roles_required(*STAFF)
def case_page(case_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    case, view = case_bundle(session, case_id, attachment_api_url)
    calc, calc_error = None, None
    if request.args.get("price"):
        try:
            calc = statutory_damages(
                price_paid_fen=yuan_to_fen(request.args["price"], "price"),
                loss_fen=yuan_to_fen(request.args.get("loss") or "0", "loss"),
            )
        except CompensationError as exc:
            calc_error = str(exc)
    return render_template(
        "complaints/case.html",
        case=case,
        view=view,
        names=_actor_names(get_session(), view),
        desk_users=_desk_users(),
        next_statuses=workflow.next_statuses(case.status),
        clock_state=clock_state,
        calc=calc,
        calc_error=calc_error,
        remedies=("refund", "voucher", "statutory"),
        fen=fen_to_yuan,
    )


def _actor_names(session: Session, view: dict[str, Any]) -> dict[str, str]:
    """Display names of the users named on a case (actors, assignee, complainant account)."""
    refs = {e["actor"] for e in view.get("events", [])}
    refs |= {f"user:{view['assignee_id']}", f"user:{view['complainant']['user_id']}"}
    ids = [int(r[5:]) for r in refs if r.startswith("user:") and r[5:].isdigit()]
    users = session.exec(select(User).where(col(User.id).in_(ids))).all() if ids else []
    return {
        f"user:{u.id}": f"{u.display_name} <{u.email}>" if u.display_name else u.email
        for u in users
    }


def _back(case_id: int) -> Any:
    return redirect(url_for("complaints.case_page", case_id=case_id), 303)


def _refused(exc: Exception, case_id: int) -> Any:
    get_session().rollback()
    flash(_("Not done: %(reason)s", reason=str(exc)), "error")
    return _back(case_id)


ACTION_ERRORS = (ValueError, LookupError)


@bp.post("/cases/<int:case_id>/transition")
@roles_required(*STAFF)
def transition_page(case_id: int):  # type: ignore[no-untyped-def]
    form = request.form
    try:
        case = casework.transition_case(
            session=get_session(),
            case_id=case_id,
            to=form.get("to", ""),
            reason=form.get("reason") or None,
            resolution=form.get("resolution") or None,
            root_cause=form.get("root_cause") or None,
            corrective_action=form.get("corrective_action") or None,
            actor=actor(),
        )
    except ACTION_ERRORS as exc:
        return _refused(exc, case_id)
    flash(_("Status is now: %(status)s", status=label(case.status)))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/assign")
@roles_required(*STAFF)
def assign_page(case_id: int):  # type: ignore[no-untyped-def]
    user_id = _page_int(request.form.get("user_id"))
    try:
        casework.assign_case(
            session=get_session(), case_id=case_id, user_id=user_id or None, actor=actor()
        )
    except ACTION_ERRORS as exc:
        return _refused(exc, case_id)
    flash(_("Assignment saved."))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/notes")
@roles_required(*STAFF)
def note_page(case_id: int):  # type: ignore[no-untyped-def]
    try:
        casework.add_note(
            session=get_session(), case_id=case_id, body=request.form.get("body", ""), actor=actor()
        )
    except ACTION_ERRORS as exc:
        return _refused(exc, case_id)
    flash(_("Note added."))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/replies")
@roles_required(*STAFF)
def reply_page(case_id: int):  # type: ignore[no-untyped-def]
    try:
        casework.send_reply(
            session=get_session(), case_id=case_id, body=request.form.get("body", ""), actor=actor()
        )
    except ACTION_ERRORS as exc:
        return _refused(exc, case_id)
    flash(_("Reply sent to the complainant."))
    return _back(case_id)


@bp.post("/cases/<int:case_id>/attachments")
@roles_required(*STAFF, Role.STUDENT)
def attachment_page(case_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    visible_case(session, case_id)  # a student only for their own case
    upload = request.files.get("file")
    student = me().role == Role.STUDENT
    back = redirect(url_for("complaints.my_cases"), 303) if student else _back(case_id)
    try:
        if upload is None:
            raise attachments.AttachmentError("choose a photo to upload")
        attachments.add_attachment(
            session=session,
            case_id=case_id,
            data=upload.read(attachments.MAX_ATTACHMENT_BYTES + 1),
            filename=upload.filename or "",
            actor=actor(),
            folder=attachments_folder(),
            visible=student,
        )
    except ACTION_ERRORS as exc:
        session.rollback()
        flash(_("Not done: %(reason)s", reason=str(exc)), "error")
        return back
    flash(_("Photo added."))
    return back


@bp.post("/cases/<int:case_id>/compensation")
@roles_required(*STAFF)
def compensation_page(case_id: int):  # type: ignore[no-untyped-def]
    form = request.form
    try:
        payouts.decide_compensation(
            session=get_session(),
            case_id=case_id,
            remedy=form.get("remedy", ""),
            order_id=_page_int(form.get("order_id")) or None,
            price_paid_fen=_yuan(form.get("price"), "price"),
            loss_fen=_yuan(form.get("loss"), "loss"),
            amount_fen=_yuan(form.get("amount"), "amount"),
            actor=actor(),
        )
    except ACTION_ERRORS as exc:
        return _refused(exc, case_id)
    flash(_("Compensation decision recorded."))
    return _back(case_id)


def _yuan(raw: str | None, name: str) -> int | None:
    return yuan_to_fen(raw, name) if raw and raw.strip() else None


@bp.get("/sla")
@roles_required(*STAFF)
def sla_page():  # type: ignore[no-untyped-def]
    session = get_session()
    board = [
        (case, documents.sla_document(sla)) for case, sla in deadlines.sla_board(session=session)
    ]
    recent = deadlines.recent_notifications(session=session, limit=30)
    numbers = _numbers(session, {n.case_id for n in recent})
    return render_template(
        "complaints/sla.html", board=board, recent=recent, numbers=numbers, clock_state=clock_state
    )


def _numbers(session: Session, case_ids: set[int]) -> dict[int, str]:
    if not case_ids:
        return {}
    rows = session.exec(select(Case.id, Case.number).where(col(Case.id).in_(case_ids)))
    return {i: n for i, n in rows if i is not None}


@bp.get("/compliance")
@roles_required(Role.ADMIN)
def compliance_page():  # type: ignore[no-untyped-def]
    figures = deadlines.compliance_figures(session=get_session(), timezone=settings().timezone)
    return render_template("complaints/compliance.html", figures=figures)


# --------------------------------------------------------------------------- surveys


@bp.route("/surveys", methods=["GET", "POST"])
@roles_required(*STAFF)
def surveys_page():  # type: ignore[no-untyped-def]
    session = get_session()
    error, details = None, []
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise SurveyError([{"row": None, "column": "file", "reason": "choose a file"}])
            analysis = survey_uploads.upload_survey(
                session=session,
                data=upload.read(),
                filename=upload.filename,
                mapping=mapping_from_form(request.form),
                case_id=_page_int(request.form.get("case_id")) or None,
                actor=actor(),
                folder=surveys_folder(),
                timezone=settings().timezone,
            )
        except SurveyError as exc:
            session.rollback()
            error, details = _("The survey could not be analysed."), exc.details
        except service.CaseNotFound as exc:
            session.rollback()
            error = str(exc)
        else:
            return redirect(url_for("complaints.survey_page", survey_id=analysis.survey.id), 303)
    surveys = survey_uploads.list_surveys(session=session)
    html = render_template(
        "complaints/surveys.html", surveys=surveys, error=error, details=details, form=request.form
    )
    return html, (422 if error else 200)


@bp.get("/surveys/<int:survey_id>")
@roles_required(*STAFF)
def survey_page(survey_id: int):  # type: ignore[no-untyped-def]
    survey = survey_uploads.get_survey(session=get_session(), survey_id=survey_id)
    folder = surveys_folder()
    result = survey_uploads.survey_result(folder, survey)
    args = request.args
    strat = dose = None
    problem = None
    try:
        if args.get("item") and args.get("by"):
            strat = survey_uploads.survey_stratified(folder, survey, args["item"], args["by"])
        if args.get("dose_item"):
            dose = survey_uploads.survey_dose_response(folder, survey, args["dose_item"])
    except SurveyError as exc:
        problem = "; ".join(d["reason"] for d in exc.details)
    curve = survey_uploads.epicurve(folder, survey)
    return render_template(
        "complaints/survey.html",
        survey=survey,
        result=result.as_dict(),
        strat=strat,
        dose=dose,
        problem=problem,
        curve=curve,
        chart=_epicurve_bars(curve),
        args=args,
    )


def _epicurve_bars(curve: dict[str, Any]) -> list[dict[str, Any]]:
    """Bars for the server-side SVG (no inline styles: the CSP forbids them)."""
    bins = curve["bins"]
    peak = max((b["cases"] for b in bins), default=0) or 1
    width = 600 / max(len(bins), 1)
    return [
        {
            "x": round(i * width, 2),
            "w": round(max(width - 2, 1), 2),
            "h": round(160 * b["cases"] / peak, 2),
            "y": round(170 - 160 * b["cases"] / peak, 2),
            "label": local(b["start"], "%m-%d %H:%M"),
            "cases": b["cases"],
        }
        for i, b in enumerate(bins)
    ]


# --------------------------------------------------------------------------- students


@bp.route("/report", methods=["GET", "POST"])
@roles_required(Role.STUDENT)
def report_page():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("complaints/report.html", **_form_context())
    session = get_session()
    data = intake_from_form(request.form, student=True, zone=tz())
    data.update(channel="app", complainant={"user_id": me().id})
    try:
        opened = service.open_case(
            session=session, data=data, actor=actor(), timezone=settings().timezone
        )
    except intake.IntakeError as exc:
        session.rollback()
        html = render_template(
            "complaints/report.html", **_form_context(errors=_errors(exc), form=request.form)
        )
        return html, 422
    flash(_("Thank you. Your report %(number)s was received.", number=opened.case.number))
    return redirect(url_for("complaints.my_cases"), 303)


@bp.get("/mine")
@roles_required(Role.STUDENT)
def my_cases():  # type: ignore[no-untyped-def]
    session = get_session()
    user = me()
    page = service.list_cases(
        session=session, filters=service.CaseFilters(complainant_user_id=user.id), per_page=50
    )
    bundles = [case_bundle(session, c.id, attachment_api_url)[1] for c in page.cases if c.id]
    feedback_open = {c.id: _feedback_open(session, c) for c in page.cases}
    return render_template(
        "complaints/mine.html",
        bundles=bundles,
        feedback_open=feedback_open,
        appeal_days=default_policies().appeal_days,
    )


def _feedback_open(session: Session, case: Case) -> bool:
    if case.status != "closed" or case.id is None:
        return False
    closure = casework.last_closure(session, case.id)
    if closure is None:
        return False
    given = session.exec(select(Feedback.id).where(Feedback.closure_event_id == closure.id))
    return given.first() is None


@bp.post("/mine/<int:case_id>/feedback")
@roles_required(Role.STUDENT)
def feedback_page(case_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    visible_case(session, case_id)
    form = request.form
    rating = _page_int(form.get("rating"))
    try:
        casework.give_feedback(
            session=session,
            case_id=case_id,
            rating=rating or None,
            comment=form.get("comment") or None,
            appeal=form.get("appeal") == "on",
            actor=actor(),
            appeal_days=default_policies().appeal_days,
        )
    except ACTION_ERRORS as exc:
        session.rollback()
        flash(_("Not done: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("complaints.my_cases"), 303)
    flash(_("Thank you for your feedback."))
    return redirect(url_for("complaints.my_cases"), 303)


# --------------------------------------------------------------------------- outbreaks


@bp.get("/clusters")
@roles_required(*STAFF)
def clusters_page():  # type: ignore[no-untyped-def]
    session = get_session()
    return render_template("complaints/clusters.html", rows=clusters.list_clusters(session=session))


@bp.get("/clusters/<int:cluster_id>")
@roles_required(*STAFF)
def cluster_page(cluster_id: int):  # type: ignore[no-untyped-def]
    view = clusters.get_cluster(session=get_session(), cluster_id=cluster_id)
    return render_template("complaints/cluster.html", view=view)


@bp.get("/investigate")
@roles_required(*STAFF)
def investigate_page():  # type: ignore[no-untyped-def]
    raw = request.args.get("case_ids", "")
    ids = [int(p) for p in raw.replace(" ", ",").split(",") if p.strip().isdigit()]
    pathogen = request.args.get("pathogen") or None
    result, problem = None, None
    try:
        result = investigation.investigate(
            session=get_session(), case_ids=ids, pathogen=pathogen, limit=50
        ).as_dict()
    except investigation.InvestigationError as exc:
        problem = str(exc)
    return render_template(
        "complaints/investigate.html",
        result=result,
        problem=problem,
        case_ids=",".join(map(str, ids)),
        pathogens=list(incubation.default_pathogens()),
        pathogen=pathogen,
    ), (422 if problem else 200)


def _source_args() -> tuple[str, int, int | None]:
    args = request.values
    kind = args.get("kind", "")
    if kind not in notices.SOURCE_KINDS:
        raise notices.NoticeError("kind is lot or batch", field="kind")
    ident = _page_int(args.get("id"))
    if not ident:
        raise notices.NoticeError("give the lot or batch id", field="id")
    return kind, ident, _page_int(args.get("case_id")) or None


@bp.get("/affected")
@roles_required(*STAFF)
def affected_page():  # type: ignore[no-untyped-def]
    kind, ident, case_id = _source_args()
    session = get_session()
    rows = notices.affected_orders(session=session, viewer=trace_viewer(), kind=kind, ident=ident)
    notified = set(
        session.exec(
            select(Notice.order_id).where(Notice.source_kind == kind, Notice.source_id == ident)
        ).all()
    )
    return render_template(
        "complaints/affected.html",
        kind=kind,
        ident=ident,
        case_id=case_id,
        rows=rows,
        notified=notified,
        customers=len({r.user_id for r in rows}),
    )


def _back_to_affected(kind: str, ident: int, case_id: int | None) -> Any:
    return redirect(url_for("complaints.affected_page", kind=kind, id=ident, case_id=case_id), 303)


@bp.post("/affected/notices")
@roles_required(*STAFF)
def notices_send_page():  # type: ignore[no-untyped-def]
    kind, ident, case_id = _source_args()
    if case_id is None:
        flash(_("Not done: %(reason)s", reason=_("open the list from a case")), "error")
        return _back_to_affected(kind, ident, case_id)
    try:
        done = notices.send_notices(
            session=get_session(),
            viewer=trace_viewer(),
            case_id=case_id,
            kind=kind,
            ident=ident,
            survey_url=url_for("complaints.notice_page", token=SLOT, _external=True).replace(
                SLOT, "{token}"
            ),
        )
    except ACTION_ERRORS as exc:
        get_session().rollback()
        flash(_("Not done: %(reason)s", reason=str(exc)), "error")
        return _back_to_affected(kind, ident, case_id)
    flash(
        _(
            "%(sent)s notices sent; %(already)s orders had been notified already.",
            sent=len(done.sent),
            already=done.already,
        )
    )
    return _back_to_affected(kind, ident, case_id)


@bp.post("/affected/hold")
@roles_required(*STAFF)
def hold_page():  # type: ignore[no-untyped-def]
    kind, ident, case_id = _source_args()
    session = get_session()
    try:
        number = service.get_case(session=session, case_id=case_id).number if case_id else None
        held = notices.hold_source(
            session=session,
            viewer=trace_viewer(),
            kind=kind,
            ident=ident,
            reason=request.form.get("reason") or _("suspected in a complaint investigation"),
            case_number=number,
        )
    except ACTION_ERRORS as exc:
        session.rollback()
        flash(_("Not done: %(reason)s", reason=str(exc)), "error")
        return _back_to_affected(kind, ident, case_id)
    flash(_("%(n)s records put on hold.", n=len(held)))
    return _back_to_affected(kind, ident, case_id)


def payments_port(session: Session) -> OrdersPayments:
    """The orders module's payment interface with this deployment's gateway and rules
    (`ORDERS_PAYMENT_GATEWAY` and the other `ORDERS_...` settings)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    name = current_app.config.get("ORDERS_PAYMENT_GATEWAY", "simulated")
    gateway = orders_service.gateway_for(engine, name)
    config = orders_service.OrdersConfig.from_mapping(current_app.config)
    return OrdersPayments(session, actor(), gateway=gateway, config=config)


@bp.post("/cases/<int:case_id>/compensation/<int:compensation_id>/pay")
@roles_required(*STAFF)
def payout_page(case_id: int, compensation_id: int):  # type: ignore[no-untyped-def]
    session = get_session()
    try:
        payouts.pay_compensation(
            session=session,
            compensation_id=compensation_id,
            port=payments_port(session),
            actor=actor(),
            case_id=case_id,
        )
    except (*ACTION_ERRORS, PaymentFailed) as exc:
        return _refused(exc, case_id)
    flash(_("Paid out."))
    return _back(case_id)


@bp.get("/notices")
@roles_required(Role.STUDENT)
def my_notices_page():  # type: ignore[no-untyped-def]
    rows = notices.notices_for(session=get_session(), user_id=me().id or 0)
    return render_template("complaints/notices.html", rows=rows)


@bp.route("/notices/<token>", methods=["GET", "POST"])
@roles_required(Role.STUDENT)
def notice_page(token: str):  # type: ignore[no-untyped-def]
    session = get_session()
    notice = notices.notice_by_token(session=session, token=token, user_id=me().id or 0)
    problem = None
    if request.method == "POST":
        form = request.form
        onset = None
        raw = form.get("onset_at") or ""
        try:
            if raw:
                onset = datetime.fromisoformat(raw).replace(tzinfo=tz())
            notices.answer_notice(
                session=session,
                token=token,
                user_id=me().id or 0,
                ill=form.get("ill") == "yes",
                onset_at=onset,
                symptoms=form.getlist("symptoms"),
            )
        except ValueError as exc:
            session.rollback()
            problem = str(exc)
        else:
            flash(_("Thank you: your answer was recorded."))
            return redirect(url_for("complaints.my_notices_page"), 303)
    return render_template(
        "complaints/notice.html", notice=notice, symptoms=intake.SYMPTOMS, problem=problem
    ), (422 if problem else 200)


# --------------------------------------------------------------------------- merchants


@bp.get("/merchant")
@roles_required(Role.MERCHANT)
def merchant_cases():  # type: ignore[no-untyped-def]
    user = me()
    session = get_session()
    views: list[dict[str, Any]] = []
    if user.merchant_id is not None:
        page = service.list_cases(
            session=session, filters=service.CaseFilters(merchant_id=user.merchant_id), per_page=100
        )
        for case in page.cases:
            assert case.id is not None
            doc = documents.case_document(case, page.order_ids[case.id])
            view = privacy.case_view(doc, viewer())
            if view is not None:
                views.append(view)
    return render_template("complaints/merchant.html", cases=views)


def init_app(app: Flask) -> None:
    """Register the pages and the API, and map the domain errors to HTTP answers."""
    from complaints.api import views as api_views  # late: the API modules use the helpers above
    from complaints.api.outbreaks import views as outbreaks

    api_views.register_errors()
    outbreaks.register_errors()
    app.register_blueprint(bp)
    app.register_api(api_views.api)  # type: ignore[attr-defined]
