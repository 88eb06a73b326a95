"""The ledger for people: public checkpoint, key and consistency proofs; entries with inclusion
proofs for staff; the administrators' ledger page with "verify now"."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, url_for
from pydantic import BaseModel, Field

import ledger
from accounts.models import Role
from evidence import service
from web.api import api_blueprint
from web.auth import current_user, public, roles_required
from web.db import get_session
from web.errors import register_error

bp = Blueprint("evidence", __name__)
api = api_blueprint(
    "ledger_api",
    __name__,
    tag="ledger",
    description="Tamper-evident ledger: checkpoints and RFC 9162 proofs",
)


class EntryPath(BaseModel):
    index: int = Field(ge=0, description="0-based leaf index as in RFC 9162")


class ConsistencyQuery(BaseModel):
    first: int = Field(ge=1, description="the smaller tree size")
    second: int = Field(ge=1, description="the larger tree size")


class CheckpointOut(BaseModel):
    size: int
    root: str
    note: str


class EntryOut(BaseModel):
    index: int
    type: str
    entry: str
    envelope: dict
    leaf_hash: str
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


def ledger_key() -> service.LedgerKey:
    return current_app.extensions["foodtrace"].extras["ledger_key"]


def projections() -> list[ledger.Projection]:
    return current_app.extensions["foodtrace"].extras["projections"]


@api.get(
    "/ledger/checkpoint",
    responses={200: CheckpointOut},
    security=[],
    summary="The latest signed checkpoint (C2SP tlog-checkpoint note)",
)
@public
def checkpoint():  # type: ignore[no-untyped-def]
    cp = service.latest_checkpoint(session=get_session(), key=ledger_key())
    return CheckpointOut(size=cp.size, root=service.b64(cp.root), note=cp.note).model_dump()


@api.get("/ledger/public-key", security=[], summary="The Ed25519 key that signs checkpoints (PEM)")
@public
def public_key():  # type: ignore[no-untyped-def]
    return Response(service.public_key_pem(ledger_key()), mimetype="application/x-pem-file")


@api.get(
    "/ledger/entries/<int:index>",
    responses={200: EntryOut},
    summary="An entry, its leaf hash and its inclusion proof to the latest checkpoint",
)
@roles_required(Role.ADMIN, Role.DESK)
def entry(path: EntryPath):  # type: ignore[no-untyped-def]
    return service.entry_with_proof(session=get_session(), key=ledger_key(), index=path.index)


@api.get(
    "/ledger/consistency",
    responses={200: ConsistencyOut},
    security=[],
    summary="RFC 9162 consistency proof between two tree sizes",
)
@public
def consistency(query: ConsistencyQuery):  # type: ignore[no-untyped-def]
    return service.consistency(session=get_session(), first=query.first, second=query.second)


@bp.get("/admin/ledger")
@roles_required(Role.ADMIN)
def ledger_page():  # type: ignore[no-untyped-def]
    return render_template("evidence/ledger.html", **service.overview(session=get_session()))


@bp.post("/admin/ledger/verify")
@roles_required(Role.ADMIN)
def verify_now():  # type: ignore[no-untyped-def]
    from app import enqueue
    from evidence import tasks

    user = current_user()
    run = service.start_verification(session=get_session(), user_id=user.id if user else None)
    enqueue(tasks.verify_ledger, run.id)
    return redirect(url_for("evidence.run_page", run_id=run.id))


@bp.get("/admin/ledger/runs/<int:run_id>")
@roles_required(Role.ADMIN)
def run_page(run_id: int):  # type: ignore[no-untyped-def]
    run = service.get_run(session=get_session(), run_id=run_id)
    return render_template("evidence/run.html", run=run)


def init_app(app: Flask) -> None:
    register_error(ledger.UnknownIndex, 404, "unknown_index")
    register_error(service.BadRange, 422, "bad_range")
    register_error(service.RunNotFound, 404, "not_found")
    app.register_blueprint(bp)
    app.register_api(api)  # type: ignore[attr-defined]
