"""The complaint desk's JSON API under /api/v1 (registered by complaints.views.init_app).

Cases (intake, list, detail, update, transitions, assignment, notes, replies, photos,
feedback, compensation), SLA board and compliance, the art. 148 calculator, and food-history
surveys. Every answer passes through complaints.privacy for the caller's role.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from flask import Response, url_for
from flask_openapi3 import FileStorage
from pydantic import BaseModel, Field

from accounts.models import Role
from complaints import (
    attachments,
    casework,
    deadlines,
    documents,
    incubation,
    intake,
    payouts,
    privacy,
    service,
    survey_uploads,
    workflow,
)
from complaints.compensation import CompensationError, statutory_damages
from complaints.sla import default_policies
from complaints.survey import SurveyError
from complaints.views import (
    actor,
    attachment_api_url,
    attachments_folder,
    case_bundle,
    me,
    settings,
    surveys_folder,
    tz,
    viewer,
    visible_case,
)
from web.api import ApiModel, api_blueprint
from web.auth import roles_required
from web.db import get_session
from web.errors import ApiError, register_error

api = api_blueprint(
    "complaints_api",
    __name__,
    tag="complaints",
    description="Complaint cases, SLA clocks, compensation and food-history surveys",
)
STAFF = (Role.ADMIN, Role.DESK)
READERS = (Role.ADMIN, Role.DESK, Role.MERCHANT, Role.STUDENT)

Category = Literal[intake.CATEGORIES]  # type: ignore[valid-type]
Channel = Literal[intake.CHANNELS]  # type: ignore[valid-type]
Symptom = Literal[intake.SYMPTOMS]  # type: ignore[valid-type]
Care = Literal[intake.MEDICAL_CARE]  # type: ignore[valid-type]
Remedy = Literal[intake.REMEDIES]  # type: ignore[valid-type]
Status = Literal[workflow.STATUSES]  # type: ignore[valid-type]
People = Annotated[int, Field(ge=0, le=intake.MAX_PEOPLE)]
OrderId = Annotated[int, Field(ge=1)]


class ConsentIn(ApiModel):
    share_with_merchant: bool = False
    contact_by_phone: bool = False
    health_data_processing: bool = False


class ComplainantIn(ApiModel):
    """A student account (user_id), or a name with a phone or an email."""

    user_id: int | None = Field(default=None, ge=1)
    name: str | None = Field(default=None, max_length=120)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)


class IllPersonIn(ApiModel):
    age_band: Literal[intake.AGE_BANDS] | None = None  # type: ignore[valid-type]
    sex: Literal[intake.SEXES] | None = None  # type: ignore[valid-type]


class CaseFields(ApiModel):
    """Intake fields shared by opening and updating a case."""

    description: str | None = Field(default=None, min_length=1, max_length=intake.MAX_TEXT)
    order_ids: list[OrderId] | None = Field(default=None, max_length=intake.MAX_ORDERS)
    onset_at: datetime | None = Field(default=None, description="RFC 3339 with offset")
    symptoms: list[Symptom] | None = None
    n_party: People | None = None
    n_ill: People | None = None
    n_exposed: People | None = None
    ill_persons: list[IllPersonIn] | None = None
    medical_care: Care | None = None
    stool_sample: bool | None = None
    leftovers_kept: bool | None = None
    other_ill_contacts: bool | None = None
    food_history: str | None = Field(default=None, max_length=intake.MAX_TEXT)
    remedy_sought: list[Remedy] | None = None
    consent: ConsentIn | None = None
    complainant: ComplainantIn | None = None
    merchant_id: int | None = Field(default=None, ge=1)


class CaseCreate(CaseFields):
    """A new case. Students report for themselves (no complainant, channel "app"); the desk
    names the complainant and the channel (default "phone")."""

    category: Category
    description: str = Field(min_length=1, max_length=intake.MAX_TEXT)
    channel: Channel | None = None


class CaseUpdate(CaseFields):
    """Corrections to a case's intake; severity is re-evaluated."""

    category: Category | None = None


class IdempotencyHeader(BaseModel):
    idempotency_key: str | None = Field(
        default=None,
        alias="Idempotency-Key",
        max_length=200,
        description="Repeat a POST with the same key: the first case is returned, not a second",
    )


class CasePath(BaseModel):
    case_id: int = Field(ge=1)


class AttachmentPath(BaseModel):
    case_id: int = Field(ge=1)
    attachment_id: int = Field(ge=1)


class CaseQuery(BaseModel):
    status: Literal[(*workflow.STATUSES, "open")] | None = None  # type: ignore[valid-type]
    severity: Literal["critical", "high", "normal", "low"] | None = None
    category: Category | None = None
    assignee: int | Literal["none", "me"] | None = Field(default=None, description="id, none, me")
    merchant_id: int | None = Field(default=None, ge=1)
    opened_from: date | None = Field(default=None, description="local date, inclusive")
    opened_to: date | None = Field(default=None, description="local date, inclusive")
    page: int = Field(default=1, ge=1)
    per_page: int = Field(default=25, ge=1, le=service.MAX_PER_PAGE)


class TransitionIn(ApiModel):
    to: Status
    reason: str | None = Field(default=None, max_length=workflow.MAX_REASON)
    resolution: str | None = Field(default=None, max_length=intake.MAX_TEXT)
    root_cause: str | None = Field(default=None, max_length=intake.MAX_TEXT)
    corrective_action: str | None = Field(default=None, max_length=intake.MAX_TEXT)


class AssignIn(ApiModel):
    user_id: int | None = Field(ge=1, description="a desk or admin user; null unassigns")


class TextIn(ApiModel):
    body: str = Field(min_length=1, max_length=intake.MAX_TEXT)


class FeedbackIn(ApiModel):
    rating: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=intake.MAX_TEXT)
    appeal: bool = False


class CompensationIn(ApiModel):
    remedy: Literal["refund", "voucher", "statutory"]
    order_id: int | None = Field(default=None, ge=1)
    price_paid_fen: int | None = Field(default=None, ge=0)
    loss_fen: int | None = Field(default=None, ge=0)
    amount_fen: int | None = Field(default=None, ge=0)


class StatutoryQuery(BaseModel):
    price_paid_fen: int = Field(ge=0, description="price paid, in fen")
    loss_fen: int = Field(default=0, ge=0, description="the consumer's loss, in fen")


class AttachmentForm(BaseModel):
    file: FileStorage


class SurveyForm(BaseModel):
    file: FileStorage
    mapping: dict[str, Any] = Field(
        description="JSON: id_column, ill_column, item_columns, onset_columns, "
        "portion_columns (item → column), yes_values, no_values, missing_values, timezone"
    )
    case_id: int | None = Field(default=None, ge=1)


class SurveyPath(BaseModel):
    survey_id: int = Field(ge=1)


class StratifiedIn(ApiModel):
    item: str = Field(min_length=1, max_length=200)
    by: str = Field(min_length=1, max_length=200)


class DoseQuery(BaseModel):
    item: str = Field(min_length=1, max_length=200)


class EpicurveQuery(BaseModel):
    bin_hours: float = Field(default=6, gt=0, le=24 * 14)
    exposure_at: datetime | None = Field(default=None, description="the common meal, RFC 3339")


# --------------------------------------------------------------------------- cases


def _detail(case_id: int) -> dict[str, Any]:
    return case_bundle(get_session(), case_id, attachment_api_url)[1]


@api.post(
    "/cases",
    responses={201: None, 200: None},
    summary="Open a case (desk: for anyone; student: for themselves)",
    description=(
        "At least `{category, description, order_ids, onset_at, symptoms}`. The desk also "
        "gives `complainant` ({name, phone or email} or {user_id}) and `channel`. Send an "
        "`Idempotency-Key` header: a retried POST with the same key and body returns the "
        "first case (200, `Idempotent-Replayed: true`) instead of opening a second."
    ),
)
@roles_required(*STAFF, Role.STUDENT)
def create_case(body: CaseCreate, header: IdempotencyHeader):  # type: ignore[no-untyped-def]
    user = me()
    data = body.model_dump(exclude_unset=True)
    if user.role == Role.STUDENT:
        if body.complainant is not None or body.channel not in (None, "app"):
            problem: intake.Problem = {
                "field": "complainant",
                "reason": "students report for themselves",
            }
            raise intake.IntakeError([problem])
        data.update(channel="app", complainant={"user_id": user.id})
    else:
        data.setdefault("channel", "phone")
    opened = service.open_case(
        session=get_session(),
        data=data,
        actor=actor(),
        idempotency_key=header.idempotency_key,
        timezone=settings().timezone,
    )
    assert opened.case.id is not None
    location = url_for("complaints_api.get_case", case_id=opened.case.id)
    if not opened.created:
        return _detail(opened.case.id), 200, {"Location": location, "Idempotent-Replayed": "true"}
    return _detail(opened.case.id), 201, {"Location": location}


@api.get("/cases", summary="Cases, newest first (merchants: theirs, pseudonymous; students: own)")
@roles_required(*READERS)
def list_cases(query: CaseQuery):  # type: ignore[no-untyped-def]
    user, who = me(), viewer()
    zone = tz()
    assignee = (
        user.id if query.assignee == "me" else 0 if query.assignee == "none" else query.assignee
    )
    filters = service.CaseFilters(
        status=query.status,
        severity=query.severity,
        category=query.category,
        assignee_id=assignee,
        merchant_id=query.merchant_id,
        opened_from=datetime.combine(query.opened_from, time(), zone)
        if query.opened_from
        else None,
        opened_to=(
            datetime.combine(query.opened_to + timedelta(days=1), time(), zone)
            if query.opened_to
            else None
        ),
    )
    if user.role == Role.MERCHANT:
        filters = _replace(filters, merchant_id=user.merchant_id or -1)
    elif user.role == Role.STUDENT:
        filters = _replace(filters, complainant_user_id=user.id)
    page = service.list_cases(
        session=get_session(), filters=filters, page=query.page, per_page=query.per_page
    )
    cases = []
    for case in page.cases:
        assert case.id is not None
        view = privacy.case_view(documents.case_document(case, page.order_ids[case.id]), who)
        if view is not None:
            cases.append(view)
    pages = (page.total + page.per_page - 1) // page.per_page
    return {
        "cases": cases,
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": pages,
    }


def _replace(filters: service.CaseFilters, **changes: Any) -> service.CaseFilters:
    return replace(filters, **changes)


@api.get("/cases/<int:case_id>", summary="One case, as the caller's role may see it")
@roles_required(*READERS)
def get_case(path: CasePath):  # type: ignore[no-untyped-def]
    return _detail(path.case_id)


@api.patch("/cases/<int:case_id>", summary="Correct or complete a case's intake (re-triaged)")
@roles_required(*STAFF)
def update_case(path: CasePath, body: CaseUpdate):  # type: ignore[no-untyped-def]
    service.update_case(
        session=get_session(),
        case_id=path.case_id,
        changes=body.model_dump(exclude_unset=True),
        actor=actor(),
    )
    return _detail(path.case_id)


@api.post(
    "/cases/<int:case_id>/transitions",
    summary="Move a case along its workflow",
    description=(
        "new → acknowledged → investigating → action_taken → resolved → closed; "
        "investigating ⇄ waiting_for_lab / waiting_for_customer; resolved or closed → "
        "investigating reopens and needs a `reason`. Resolving needs resolution, root_cause "
        "and corrective_action. 409 names the current status when a move is not allowed."
    ),
)
@roles_required(*STAFF)
def transition(path: CasePath, body: TransitionIn):  # type: ignore[no-untyped-def]
    casework.transition_case(
        session=get_session(), case_id=path.case_id, actor=actor(), **body.model_dump()
    )
    return _detail(path.case_id)


@api.post("/cases/<int:case_id>/assign", summary="Assign to a desk user (null: unassign)")
@roles_required(*STAFF)
def assign(path: CasePath, body: AssignIn):  # type: ignore[no-untyped-def]
    casework.assign_case(
        session=get_session(), case_id=path.case_id, user_id=body.user_id, actor=actor()
    )
    return _detail(path.case_id)


@api.post("/cases/<int:case_id>/notes", summary="Add an internal note (never shown outside)")
@roles_required(*STAFF)
def add_note(path: CasePath, body: TextIn):  # type: ignore[no-untyped-def]
    event = casework.add_note(
        session=get_session(), case_id=path.case_id, body=body.body, actor=actor()
    )
    return documents.event_document(event), 201


@api.post("/cases/<int:case_id>/replies", summary="Reply to the complainant (shown to them)")
@roles_required(*STAFF)
def add_reply(path: CasePath, body: TextIn):  # type: ignore[no-untyped-def]
    event = casework.send_reply(
        session=get_session(), case_id=path.case_id, body=body.body, actor=actor()
    )
    return documents.event_document(event), 201


@api.post(
    "/cases/<int:case_id>/attachments",
    responses={201: None, 413: None},
    summary="Attach a photo (JPEG, PNG or WebP by content, at most 5 MB)",
)
@roles_required(*STAFF, Role.STUDENT)
def add_attachment(path: CasePath, form: AttachmentForm):  # type: ignore[no-untyped-def]
    session = get_session()
    visible_case(session, path.case_id)
    row = attachments.add_attachment(
        session=session,
        case_id=path.case_id,
        data=form.file.read(attachments.MAX_ATTACHMENT_BYTES + 1),
        filename=form.file.filename or "",
        actor=actor(),
        folder=attachments_folder(),
        visible=me().role == Role.STUDENT,
    )
    assert row.id is not None
    return documents.attachment_document(row, attachment_api_url(path.case_id, row.id)), 201


@api.get("/cases/<int:case_id>/attachments/<int:attachment_id>", summary="A photo's bytes")
@roles_required(*STAFF, Role.STUDENT)
def get_attachment(path: AttachmentPath):  # type: ignore[no-untyped-def]
    session = get_session()
    visible_case(session, path.case_id)
    row = attachments.get_attachment(
        session=session, case_id=path.case_id, attachment_id=path.attachment_id
    )
    data = attachments.read_attachment(attachments_folder(), row)
    response = Response(data, mimetype=row.media_type)
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["Content-Disposition"] = "inline"
    return response


@api.post(
    "/cases/<int:case_id>/feedback",
    summary="Satisfaction rating after closure; an appeal within the window reopens the case",
)
@roles_required(*STAFF, Role.STUDENT)
def give_feedback(path: CasePath, body: FeedbackIn):  # type: ignore[no-untyped-def]
    session = get_session()
    visible_case(session, path.case_id)
    row = casework.give_feedback(
        session=session,
        case_id=path.case_id,
        rating=body.rating,
        comment=body.comment,
        appeal=body.appeal,
        actor=actor(),
        appeal_days=default_policies().appeal_days,
    )
    return {
        "id": row.id,
        "rating": row.rating,
        "appeal": row.appeal,
        "case": _detail(path.case_id),
    }, 201


@api.post(
    "/cases/<int:case_id>/compensation",
    summary="Record a refund, voucher or statutory (art. 148) decision; paid out once",
)
@roles_required(*STAFF)
def decide_compensation(path: CasePath, body: CompensationIn):  # type: ignore[no-untyped-def]
    row = payouts.decide_compensation(
        session=get_session(), case_id=path.case_id, actor=actor(), **body.model_dump()
    )
    return documents.compensation_document(row), 201


@api.get(
    "/compensation/statutory",
    summary="Art. 148 calculator: max(10 × price, 3 × loss), at least ¥1,000 (fen)",
)
@roles_required(*STAFF)
def statutory(query: StatutoryQuery):  # type: ignore[no-untyped-def]
    result = statutory_damages(price_paid_fen=query.price_paid_fen, loss_fen=query.loss_fen)
    return asdict(result)


@api.get("/cases/sla-board", summary="Open cases by time left on their SLA clocks")
@roles_required(*STAFF)
def sla_board():  # type: ignore[no-untyped-def]
    board = deadlines.sla_board(session=get_session())
    return {
        "cases": [
            {
                "id": c.id,
                "number": c.number,
                "status": c.status,
                "severity": c.severity,
                "category": c.category,
                "sla": documents.sla_document(s),
            }
            for c, s in board
        ]
    }


@api.get(
    "/cases/sla-compliance",
    summary="% of SLA targets met: overall, per category, per month (administrators)",
)
@roles_required(Role.ADMIN)
def sla_compliance():  # type: ignore[no-untyped-def]
    return deadlines.compliance_figures(session=get_session(), timezone=settings().timezone)


# --------------------------------------------------------------------------- surveys


@api.post(
    "/surveys",
    responses={201: None},
    summary="Upload a food-history survey (CSV/XLSX) and get its ranked attack-rate table",
    description=(
        "Multipart: `file`, `mapping` (JSON) and optional `case_id`. Answers in none of the "
        "value lists are errors; `missing_values` count as missing (never as no), per item in "
        '`n_missing`. An infinite relative risk is the string "Infinity". Problems answer '
        "422 with `details` as `{row, column, reason}`."
    ),
)
@roles_required(*STAFF)
def upload_survey(form: SurveyForm):  # type: ignore[no-untyped-def]
    analysis = survey_uploads.upload_survey(
        session=get_session(),
        data=form.file.read(),
        filename=form.file.filename or "",
        mapping=form.mapping,
        case_id=form.case_id,
        actor=actor(),
        folder=surveys_folder(),
        timezone=settings().timezone,
    )
    location = url_for("complaints_api.get_survey", survey_id=analysis.survey.id)
    return analysis.as_dict(), 201, {"Location": location}


def _survey(survey_id: int) -> Any:
    return survey_uploads.get_survey(session=get_session(), survey_id=survey_id)


@api.get("/surveys/<int:survey_id>", summary="A stored survey's ranked attack-rate table")
@roles_required(*STAFF)
def get_survey(path: SurveyPath):  # type: ignore[no-untyped-def]
    return survey_uploads.survey_result(surveys_folder(), _survey(path.survey_id)).as_dict()


@api.post(
    "/surveys/<int:survey_id>/stratified",
    summary="Mantel–Haenszel relative risk of one item stratified by another column",
)
@roles_required(*STAFF)
def survey_stratified(path: SurveyPath, body: StratifiedIn):  # type: ignore[no-untyped-def]
    survey = _survey(path.survey_id)
    return survey_uploads.survey_stratified(surveys_folder(), survey, body.item, body.by)


@api.get("/surveys/<int:survey_id>/dose-response", summary="Attack rate by portions of an item")
@roles_required(*STAFF)
def survey_dose_response(path: SurveyPath, query: DoseQuery):  # type: ignore[no-untyped-def]
    survey = _survey(path.survey_id)
    return survey_uploads.survey_dose_response(surveys_folder(), survey, query.item)


@api.get(
    "/surveys/<int:survey_id>/epicurve",
    summary="Epidemic curve of the ill respondents' onsets, with incubation statistics",
)
@roles_required(*STAFF)
def survey_epicurve(path: SurveyPath, query: EpicurveQuery):  # type: ignore[no-untyped-def]
    if query.exposure_at is not None and query.exposure_at.tzinfo is None:
        raise ApiError(422, "naive_time", "exposure_at needs a UTC offset")
    survey = _survey(path.survey_id)
    return survey_uploads.epicurve(
        surveys_folder(), survey, bin_hours=query.bin_hours, exposure_at=query.exposure_at
    )


def register_errors() -> None:
    """Map the complaint desk's domain errors to HTTP statuses (once, at start-up)."""
    register_error(intake.IntakeError, 422, "invalid_case")
    register_error(service.IdempotencyConflict, 422, "idempotency_key_reused")
    register_error(service.CaseNotFound, 404, "not_found")
    register_error(workflow.IllegalTransition, 409, "illegal_transition")
    register_error(workflow.ReasonRequired, 422, "reason_required")
    register_error(workflow.ClosureIncomplete, 422, "closure_incomplete")
    register_error(casework.InvalidAssignee, 422, "invalid_assignee")
    register_error(casework.TextError, 422, "invalid_text")
    register_error(casework.FeedbackConflict, 409, "feedback_not_open")
    register_error(casework.AppealWindowClosed, 409, "appeal_window_closed")
    register_error(casework.FeedbackError, 422, "invalid_feedback")
    register_error(attachments.AttachmentTooLarge, 413, "attachment_too_large")
    register_error(attachments.AttachmentError, 422, "invalid_attachment")
    register_error(attachments.AttachmentNotFound, 404, "not_found")
    register_error(payouts.CompensationConflict, 409, "compensation_exists")
    register_error(CompensationError, 422, "invalid_compensation")
    register_error(payouts.CompensationNotFound, 404, "not_found")
    register_error(payouts.PayoutError, 409, "payout_impossible")
    register_error(SurveyError, 422, "invalid_survey")
    register_error(survey_uploads.SurveyNotFound, 404, "not_found")
    register_error(survey_uploads.SurveyFileAltered, 409, "survey_file_altered")
    register_error(incubation.IncubationError, 422, "invalid_incubation")
    register_error(incubation.NaiveDatetimeError, 422, "naive_time")
