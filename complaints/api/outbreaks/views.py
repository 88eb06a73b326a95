"""Outbreak API under /api/v1: source ranking (investigations), clusters, affected customers,
exposure notices and their survey, holds, and compensation payouts through the orders module.

Routes are added to complaints.api.views' blueprint (imported by complaints.views.init_app
before the blueprint is registered). Named views.py: only views may speak Flask (DESIGN.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from flask import url_for
from pydantic import BaseModel, Field

from accounts.models import Role
from complaints import clusters, documents, investigation, notices, payouts, service
from complaints.api.views import STAFF, CasePath, api
from complaints.intake import SYMPTOMS
from complaints.payments import PaymentFailed
from complaints.views import SLOT, actor, me, payments_port, trace_viewer
from web.api import ApiModel
from web.auth import roles_required
from web.db import get_session
from web.errors import register_error

Number = float | Literal["Infinity"] | None


class InvestigationIn(ApiModel):
    """The cases to explain; the window defaults to the union of their exposure windows."""

    case_ids: list[int] = Field(min_length=1, max_length=investigation.MAX_CASES)
    pathogen: str | None = Field(
        default=None, max_length=40, description="an id of complaints/pathogens.json"
    )
    since: datetime | None = Field(default=None, description="cohort start, RFC 3339")
    until: datetime | None = Field(default=None, description="cohort end, RFC 3339")
    limit: int = Field(default=50, ge=1, le=investigation.MAX_LIMIT)


class CandidateOut(BaseModel):
    """One candidate source and its food-specific attack-rate table (2×2 of orders)."""

    kind: Literal["batch", "lot", "supplier", "merchant", "menu_item", "courier"]
    id: str
    label: str
    exposed_cases: int
    exposed_total: int
    unexposed_cases: int
    unexposed_total: int
    attack_rate_exposed: float | None
    attack_rate_unexposed: float | None
    relative_risk: Number = Field(description='"Infinity" when no unexposed order is a case')
    rr_ci95: list[Number] = Field(description="Katz 95 % CI [low, high]; nulls when undefined")
    fisher_p: float
    cases_explained: float | None


class CohortOut(BaseModel):
    since: datetime
    until: datetime
    orders: int
    case_orders: int


class InvestigationOut(BaseModel):
    case_ids: list[int]
    pathogen: str | None
    cohort: CohortOut
    n_candidates: int
    candidates: list[CandidateOut]


class ClusterPath(BaseModel):
    cluster_id: int = Field(ge=1)


class SourceQuery(BaseModel):
    kind: Literal["lot", "batch"]
    id: int = Field(ge=1)


class NoticeIn(ApiModel):
    kind: Literal["lot", "batch"]
    id: int = Field(ge=1)


class HoldIn(ApiModel):
    kind: Literal["lot", "batch"]
    id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=400)
    case_id: int | None = Field(default=None, ge=1)


class PayoutPath(BaseModel):
    case_id: int = Field(ge=1)
    compensation_id: int = Field(ge=1)


class TokenPath(BaseModel):
    token: str = Field(min_length=8, max_length=64)


class AnswerIn(ApiModel):
    ill: bool
    onset_at: datetime | None = None
    symptoms: list[Literal[SYMPTOMS]] = Field(default_factory=list)  # type: ignore[valid-type]


@api.post(
    "/investigations",
    responses={200: InvestigationOut},
    summary="Rank the likely sources of a set of cases",
    description=(
        "The cohort is every order placed in the exposure window (per case: onset minus the "
        "pathogen's incubation range, or the 72 h food history when no pathogen is named; "
        "the union over the cases unless `since`/`until` are given). Its cases are the orders "
        "the cases concern. Every batch, lot (followed upstream through sub-batches and "
        "across merchants), supplier, merchant, menu item and courier is a candidate with its "
        "attack-rate table; candidates are ranked (RR > 1 first, then Fisher p, share of "
        "cases explained, RR) and the first `limit` returned. Zero cells: an infinite RR is "
        'the string "Infinity", an undefined one null.'
    ),
)
@roles_required(*STAFF)
def investigate(body: InvestigationIn):  # type: ignore[no-untyped-def]
    result = investigation.investigate(
        session=get_session(),
        case_ids=body.case_ids,
        pathogen=body.pathogen,
        since=body.since,
        until=body.until,
        limit=body.limit,
    )
    return result.as_dict()


@api.get("/clusters", summary="Open clusters of linked cases, newest first")
@roles_required(*STAFF)
def list_clusters():  # type: ignore[no-untyped-def]
    rows = clusters.list_clusters(session=get_session())
    return {
        "clusters": [
            {
                "id": c.id,
                "opened_at": c.opened_at.isoformat(),
                "alerted_at": c.alerted_at.isoformat() if c.alerted_at else None,
                "cases": n,
            }
            for c, n in rows
        ]
    }


@api.get("/clusters/<int:cluster_id>", summary="A cluster and its cases")
@roles_required(*STAFF)
def get_cluster(path: ClusterPath):  # type: ignore[no-untyped-def]
    return clusters.get_cluster(session=get_session(), cluster_id=path.cluster_id).as_dict()


@api.get("/affected", summary="Every order and customer a lot or batch reached (forward trace)")
@roles_required(*STAFF)
def affected(query: SourceQuery):  # type: ignore[no-untyped-def]
    rows = notices.affected_orders(
        session=get_session(), viewer=trace_viewer(), kind=query.kind, ident=query.id
    )
    return {
        "kind": query.kind,
        "id": query.id,
        "orders": [r.as_dict() for r in rows],
        "customers": len({r.user_id for r in rows}),
    }


def survey_link(token: str) -> str:
    """The symptom survey's address for a notice token."""
    return url_for("complaints.notice_page", token=token, _external=True)


@api.post(
    "/cases/<int:case_id>/notices",
    summary="Notify every customer who received a lot or batch (once per order)",
    description="In-app message and email (outbox) with a symptom survey link. Sending again "
    "notifies only orders not notified before about the same lot or batch.",
)
@roles_required(*STAFF)
def send_notices(path: CasePath, body: NoticeIn):  # type: ignore[no-untyped-def]
    done = notices.send_notices(
        session=get_session(),
        viewer=trace_viewer(),
        case_id=path.case_id,
        kind=body.kind,
        ident=body.id,
        survey_url=survey_link(SLOT).replace(SLOT, "{token}"),
    )
    return {"sent": len(done.sent), "already_notified": done.already, "affected": done.affected}


@api.post("/holds", summary="Put a lot or batch, and every batch made from it, on hold")
@roles_required(*STAFF)
def hold(body: HoldIn):  # type: ignore[no-untyped-def]
    session = get_session()
    number = None
    if body.case_id is not None:
        number = service.get_case(session=session, case_id=body.case_id).number
    held = notices.hold_source(
        session=session,
        viewer=trace_viewer(),
        kind=body.kind,
        ident=body.id,
        reason=body.reason,
        case_number=number,
    )
    return {"held": [{"kind": k, "id": i} for k, i in held]}


@api.post(
    "/cases/<int:case_id>/compensation/<int:compensation_id>/payout",
    summary="Pay a compensation decision out through the orders module (once)",
)
@roles_required(*STAFF)
def payout(path: PayoutPath):  # type: ignore[no-untyped-def]
    session = get_session()
    row = payouts.pay_compensation(
        session=session,
        compensation_id=path.compensation_id,
        port=payments_port(session),
        actor=actor(),
        case_id=path.case_id,
    )
    return documents.compensation_document(row)


@api.get("/notices", summary="My exposure notices (students)")
@roles_required(Role.STUDENT)
def my_notices():  # type: ignore[no-untyped-def]
    rows = notices.notices_for(session=get_session(), user_id=me().id or 0)
    return {
        "notices": [
            {
                "order_id": n.order_id,
                "sent_at": n.sent_at.isoformat(),
                "survey": survey_link(n.token),
                "answered_at": n.answered_at.isoformat() if n.answered_at else None,
            }
            for n in rows
        ]
    }


@api.post("/notices/<token>/answer", summary="Answer a notice's symptom survey (students)")
@roles_required(Role.STUDENT)
def answer(path: TokenPath, body: AnswerIn):  # type: ignore[no-untyped-def]
    n = notices.answer_notice(
        session=get_session(),
        token=path.token,
        user_id=me().id or 0,
        ill=body.ill,
        onset_at=body.onset_at,
        symptoms=body.symptoms,
    )
    return {"answered_at": n.answered_at.isoformat() if n.answered_at else None}


def register_errors() -> None:
    """Map the outbreak errors to HTTP statuses."""
    register_error(investigation.InvestigationError, 422, "invalid_investigation")
    register_error(clusters.ClusterNotFound, 404, "not_found")
    register_error(notices.NoticeError, 422, "invalid_notice")
    register_error(notices.NoticeNotFound, 404, "not_found")
    register_error(PaymentFailed, 409, "payout_failed")
