"""Trace pages: uploads with progress and error reports, templates, the trace graph, completeness,
master data. The JSON API lives in trace/api/views.py; `init_app` registers both."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from accounts.models import Role
from app import enqueue
from trace import diagram, errors, imports, masterdata, oversight, queries, service, tasks
from trace.access import Viewer
from trace.columns import COLUMNS, LANGS, RECORD_KINDS, template_csv, template_xlsx
from trace.masterdata import CertificateData
from trace.models import Upload
from trace.rules import rules
from trace.tabular import DEFAULT_MAX_BYTES
from web.auth import current_user, roles_required
from web.db import get_session
from web.i18n import N_

# Links this domain adds to each role's home page (collected by web.factory).
HOME_LINKS = {
    "merchant": [
        (N_("Upload records"), "/trace/uploads"),
        (N_("Completeness"), "/trace/merchant"),
        (N_("Lots and batches"), "/trace/records"),
    ],
    "desk": [(N_("Trace"), "/trace/graph"), (N_("Completeness"), "/trace/completeness")],
    "admin": [
        (N_("Completeness"), "/trace/completeness"),
        (N_("Merchants"), "/trace/merchants"),
        (N_("Suppliers"), "/trace/suppliers"),
    ],
}

bp = Blueprint(
    "trace",
    __name__,
    url_prefix="/trace",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
STAFF = (Role.ADMIN, Role.DESK)
READERS = (Role.ADMIN, Role.DESK, Role.MERCHANT)
WRITERS = (Role.ADMIN, Role.MERCHANT)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.context_processor
def _trace_template_globals() -> dict[str, Any]:
    """KDE labels in the page's language ("lot:location" → text) and the warning window."""
    r = rules()
    zh = get_locale() is not None and get_locale().language == "zh"  # type: ignore[union-attr]
    labels = {}
    for prefix, kdes, word in (
        ("lot", r.receiving_kdes, _("Receiving")),
        ("batch", r.transformation_kdes, _("Production")),
    ):
        for kde in kdes:
            labels[f"{prefix}:{kde.key}"] = f"{word}: {kde.zh if zh else kde.en} ({kde.cfr})"
    return {"kde_labels": labels, "warning_days": r.licence_warning.days}


def viewer() -> Viewer:
    """The signed-in user as the trace services see it."""
    user = current_user()
    assert user is not None
    return Viewer(actor=f"user:{user.id}", role=user.role, merchant_id=user.merchant_id)


def tz() -> str:
    """The deployment's time zone (dates on pages and in exports are local)."""
    return str(current_app.extensions["foodtrace"].settings.timezone)


def today() -> date:
    """Today in the deployment's time zone."""
    return datetime.now(ZoneInfo(tz())).date()


def max_upload_bytes() -> int:
    """The largest upload accepted (the smaller of ours and the request limit)."""
    limit = current_app.extensions["foodtrace"].settings.max_content_length
    return int(min(DEFAULT_MAX_BYTES, limit))


def run_upload(submitted: imports.Submitted) -> Upload:
    """Process a stored upload now, or hand a large one to the background task."""
    upload = submitted.upload
    if not submitted.pending:
        return upload
    assert upload.id is not None
    if imports.runs_in_background(upload):
        enqueue(tasks.import_upload, upload.id)
        session = get_session()
        session.expire_all()  # the task may have finished already (tests run it at once)
        return session.get(Upload, upload.id) or upload
    return imports.process_upload(session=get_session(), upload_id=upload.id, tz=tz())


def file_response(data: bytes, mimetype: str, filename: str) -> Response:
    """A download."""
    disposition = f'attachment; filename="{filename}"'
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": disposition})


def template_file(kind: str, lang: str, fmt: str) -> Response:
    """An upload template as a download."""
    if kind not in RECORD_KINDS or lang not in LANGS or fmt not in ("csv", "xlsx"):
        raise errors.NotFound("no such template")
    if fmt == "csv":
        data, mimetype = template_csv(kind, lang), "text/csv; charset=utf-8"  # type: ignore[arg-type]
    else:
        data, mimetype = template_xlsx(kind, lang), XLSX  # type: ignore[arg-type]
    return file_response(data, mimetype, f"foodtrace-{kind}-{lang}.{fmt}")


def _form_int(name: str) -> int | None:
    text = (request.form.get(name) or request.args.get(name) or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise errors.InvalidRecord(f"{name} must be a number", field=name)
    return int(text)


def _form_date(name: str) -> date:
    try:
        return date.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        raise errors.InvalidRecord(f"{name} must be a date (YYYY-MM-DD)", field=name) from None


# ------------------------------------------------------------------ uploads


@bp.get("/uploads")
@roles_required(*READERS)
def uploads_page():  # type: ignore[no-untyped-def]
    who = viewer()
    rows = imports.list_uploads(session=get_session(), viewer=who, limit=50)
    merchants = (
        masterdata.list_merchants(session=get_session(), viewer=who) if who.role == "admin" else []
    )
    return render_template(
        "trace/uploads.html",
        uploads=rows,
        merchants=merchants,
        kinds=RECORD_KINDS,
        langs=LANGS,
        can_upload=who.role in ("admin", "merchant"),
        max_bytes=max_upload_bytes(),
    )


@bp.post("/uploads")
@roles_required(*WRITERS)
def upload_file():  # type: ignore[no-untyped-def]
    file = request.files.get("file")
    if file is None or not file.filename:
        flash(_("Choose a file to upload."))
        return redirect(url_for("trace.uploads_page"))
    data = file.read(max_upload_bytes() + 1)
    file.close()  # a spooled temporary file goes at once
    submitted = imports.submit_upload(
        session=get_session(),
        viewer=viewer(),
        data=data,
        filename=file.filename,
        kind=request.form.get("kind", ""),
        merchant_id=_form_int("merchant_id"),
        partial=request.form.get("partial") == "on",
        max_bytes=max_upload_bytes(),
    )
    upload = run_upload(submitted)
    if not submitted.pending:
        flash(_("This file was uploaded before; here is its result. Nothing new was stored."))
    return redirect(url_for("trace.upload_page", upload_id=upload.id))


@bp.get("/uploads/<int:upload_id>")
@roles_required(*READERS)
def upload_page(upload_id: int):  # type: ignore[no-untyped-def]
    upload = imports.get_upload(session=get_session(), viewer=viewer(), upload_id=upload_id)
    headers = {c.key: c for kind in RECORD_KINDS for c in COLUMNS[kind]}
    return render_template("trace/upload.html", upload=upload, headers=headers)


@bp.get("/templates/<kind>.<fmt>")
@roles_required(*READERS)
def template_download(kind: str, fmt: str):  # type: ignore[no-untyped-def]
    return template_file(kind, request.args.get("lang", "zh-CN"), fmt)


# ------------------------------------------------------------------ trace graph


def _bound(name: str) -> datetime | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise errors.InvalidRecord(f"{name} must be a date and time", field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(tz()))


@bp.get("/graph")
@roles_required(*READERS)
def graph_page():  # type: ignore[no-untyped-def]
    kind = request.args.get("kind", "")
    direction = request.args.get("direction", "backward")
    ident = request.args.get("id", "")
    context: dict[str, Any] = {"kind": kind, "ident": ident, "direction": direction}
    context.update(since=request.args.get("since", ""), until=request.args.get("until", ""))
    if kind and ident.isdigit() and direction in ("backward", "forward"):
        result = queries.trace(
            session=get_session(),
            viewer=viewer(),
            kind=kind,
            ident=int(ident),
            direction=direction,
            since=_bound("since"),
            until=_bound("until"),  # type: ignore[arg-type]
        )
        context.update(result=result, svg=_svg(result))
    return render_template("trace/graph.html", **context)


def _svg(result: queries.TraceResult) -> str:
    nodes = [
        diagram.DiagramNode(
            kind=n.kind,
            id=n.id,
            label=n.label,
            depth=n.depth,
            start=n.depth == 0,
            note=" · ".join(
                p
                for p in (
                    f"{n.kind.replace('_', ' ')} {n.id}",
                    f"#{n.ledger_index}" if n.ledger_index is not None else "",
                    n.status if n.status and n.status != "active" else "",
                )
                if p
            ),
        )
        for n in result.nodes
    ]
    edges = [(e.src, e.dst) for e in result.edges]
    drawn = diagram.layout(nodes, edges, direction=result.direction)
    title = _(
        "Trace %(direction)s from %(kind)s %(id)s",
        direction=_(result.direction),
        kind=result.start[0].replace("_", " "),
        id=result.start[1],
    )
    return diagram.to_svg(drawn, title=title)


# ------------------------------------------------------------------ completeness


@bp.get("/merchant")
@roles_required(*READERS)
def merchant_page():  # type: ignore[no-untyped-def]
    who = viewer()
    merchant_id = who.merchant_id if who.role == "merchant" else _form_int("merchant_id")
    if merchant_id is None:
        return redirect(url_for("trace.completeness_page"))
    reports = oversight.oversight(
        session=get_session(), viewer=who, today=today(), merchant_id=merchant_id
    )
    if not reports:  # no such merchant (or an account bound to one not yet recorded)
        abort(404)
    return render_template("trace/merchant.html", report=reports[0])


@bp.get("/completeness")
@roles_required(*STAFF)
def completeness_page():  # type: ignore[no-untyped-def]
    session = get_session()
    reports = oversight.oversight(session=session, viewer=viewer(), today=today())
    documents = oversight.expiring_documents(session=session, today=today())
    return render_template("trace/completeness.html", reports=reports, documents=documents)


# ------------------------------------------------------------------ master data


def _refused(exc: Exception, page: str) -> Any:
    flash(str(exc))
    return redirect(url_for(page)), 303


@bp.get("/suppliers")
@roles_required(*READERS)
def suppliers_page():  # type: ignore[no-untyped-def]
    session = get_session()
    rows = masterdata.list_suppliers(session=session, limit=200)
    certs = masterdata.certificates_of(session=session, supplier_ids=[r.id for r in rows])  # type: ignore[misc]
    who = viewer()
    return render_template(
        "trace/suppliers.html",
        suppliers=rows,
        certificates=certs,
        today=today(),
        can_write=who.role in ("admin", "merchant"),
    )


@bp.post("/suppliers")
@roles_required(*WRITERS)
def create_supplier():  # type: ignore[no-untyped-def]
    form = request.form
    try:
        certificates = []
        if form.get("certificate_number", "").strip():
            certificates.append(
                CertificateData(
                    form.get("certificate_kind", ""),
                    form["certificate_number"],
                    _form_date("certificate_expires_on"),
                )
            )
        masterdata.register_supplier(
            session=get_session(),
            viewer=viewer(),
            name=form.get("name", ""),
            licence_number=form.get("licence_number", ""),
            identifier=form.get("identifier") or None,
            address=form.get("address", ""),
            contact=form.get("contact", ""),
            certificates=certificates,
        )
    except (errors.TraceError, LookupError) as exc:
        return _refused(exc, "trace.suppliers_page")
    flash(_("Supplier registered."))
    return redirect(url_for("trace.suppliers_page"), 303)


@bp.get("/merchants")
@roles_required(*STAFF)
def merchants_page():  # type: ignore[no-untyped-def]
    rows = masterdata.list_merchants(session=get_session(), viewer=viewer(), limit=200)
    return render_template(
        "trace/merchants.html", merchants=rows, today=today(), can_write=viewer().role == "admin"
    )


@bp.post("/merchants")
@roles_required(Role.ADMIN)
def create_merchant():  # type: ignore[no-untyped-def]
    form = request.form
    try:
        masterdata.register_merchant(
            session=get_session(),
            viewer=viewer(),
            name=form.get("name", ""),
            licence_number=form.get("licence_number", ""),
            licence_expires_on=_form_date("licence_expires_on"),
            location=form.get("location", ""),
            contact=form.get("contact", ""),
            identifier=form.get("identifier") or None,
        )
    except (errors.TraceError, LookupError) as exc:
        return _refused(exc, "trace.merchants_page")
    flash(_("Merchant registered."))
    return redirect(url_for("trace.merchants_page"), 303)


@bp.get("/products")
@roles_required(*READERS)
def products_page():  # type: ignore[no-untyped-def]
    rows = masterdata.list_products(session=get_session(), limit=500)
    return render_template(
        "trace/products.html", products=rows, can_write=viewer().role in ("admin", "merchant")
    )


@bp.post("/products")
@roles_required(*WRITERS)
def create_product():  # type: ignore[no-untyped-def]
    form = request.form
    try:
        masterdata.register_product(
            session=get_session(),
            viewer=viewer(),
            name=form.get("name", ""),
            code=form.get("code") or None,
            category=form.get("category", "ingredient"),
        )
    except (errors.TraceError, LookupError) as exc:
        return _refused(exc, "trace.products_page")
    flash(_("Product registered."))
    return redirect(url_for("trace.products_page"), 303)


@bp.get("/records")
@roles_required(*READERS)
def records_page():  # type: ignore[no-untyped-def]
    session, who = get_session(), viewer()
    merchant_id = _form_int("merchant_id")
    lots = service.list_lots(session=session, viewer=who, merchant_id=merchant_id, limit=100)
    batches = service.list_batches(session=session, viewer=who, merchant_id=merchant_id, limit=100)
    return render_template("trace/records.html", lots=lots, batches=batches)


def init_app(app: Flask) -> None:
    """Register the pages and the API, and map the domain errors to HTTP answers."""
    from trace.api import views as api_views  # late: the API module uses the helpers above

    api_views.register_errors()
    app.register_blueprint(bp)
    app.register_api(api_views.api)  # type: ignore[attr-defined]
