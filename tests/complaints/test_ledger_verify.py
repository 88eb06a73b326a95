"""`ledger verify` re-derives every complaint table from the entries: it passes after a whole
case's life, and names the table when a row is edited behind the ledger's back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

import ledger
from app import engine_of, session_scope
from complaints import attachments, casework, deadlines, payouts, service, survey_uploads
from complaints.models import PROJECTIONS
from complaints.payments import RecordingPayments
from tests.complaints.test_attachments import PNG

SURVEY = b"id,ill,rice\n1,yes,yes\n2,no,no\n3,yes,yes\n"


def live_case(app, people) -> int:
    now = datetime.now(UTC)
    folder = app.extensions["foodtrace"].settings.instance_path
    with session_scope(engine_of(app)) as s:
        case = service.open_case(
            session=s,
            data={
                "channel": "app",
                "category": "illness",
                "description": "Fever after the fried rice",
                "onset_at": now - timedelta(hours=30),
                "symptoms": ["fever", "diarrhoea"],
                "order_ids": [11, 12],
                "complainant": {"user_id": people.id("student")},
            },
            actor="user:1",
            now=now - timedelta(hours=2),
        ).case
        cid = case.id
        deadlines.check_slas(session=s)  # the first response is overdue: an escalation
        casework.assign_case(session=s, case_id=cid, user_id=people.id("desk"), actor="user:1")
        casework.add_note(session=s, case_id=cid, body="Call the stall", actor="user:1")
        casework.send_reply(session=s, case_id=cid, body="We are looking", actor="user:1")
        attachments.add_attachment(
            session=s, case_id=cid, data=PNG, filename="rice.png", actor="user:1",
            folder=folder / "attachments",
        )  # fmt: skip
        decision = payouts.decide_compensation(
            session=s, case_id=cid, remedy="refund", order_id=11, price_paid_fen=1800,
            amount_fen=1800, actor="user:1",
        )  # fmt: skip
        payouts.pay_compensation(
            session=s, compensation_id=decision.id, port=RecordingPayments(), actor="user:1"
        )
        for to in ("acknowledged", "investigating", "action_taken"):
            casework.transition_case(session=s, case_id=cid, to=to, actor="user:1")
        casework.transition_case(
            session=s, case_id=cid, to="resolved", actor="user:1", resolution="Refund",
            root_cause="Rice held warm", corrective_action="Two-hour rule",
        )  # fmt: skip
        casework.transition_case(session=s, case_id=cid, to="closed", actor="user:1")
        casework.give_feedback(
            session=s, case_id=cid, rating=2, comment="Slow", appeal=True, actor="user:5",
            appeal_days=14,
        )  # fmt: skip
        service.update_case(session=s, case_id=cid, changes={"order_ids": [11]}, actor="user:1")
        survey_uploads.upload_survey(
            session=s, data=SURVEY, filename="s.csv", case_id=cid, actor="user:1",
            mapping={"id_column": "id", "ill_column": "ill", "item_columns": ["rice"]},
            folder=folder / "surveys",
        )  # fmt: skip
    return cid


TAMPERING = [
    ("complaint_cases", "UPDATE complaint_cases SET severity = 'low'"),
    ("complaint_cases", "UPDATE complaint_cases SET description = 'nothing happened'"),
    ("case_orders", "UPDATE case_orders SET order_id = 999"),
    ("complaint_case_events", "UPDATE complaint_case_events SET body = 'x' WHERE kind = 'note'"),
    ("complaint_messages", "UPDATE complaint_messages SET recipient_email = 'x@evil.cn'"),
    ("complaint_sla_notifications", "DELETE FROM complaint_sla_notifications"),
    ("complaint_compensations", "UPDATE complaint_compensations SET amount_fen = 180000"),
    ("complaint_feedback", "UPDATE complaint_feedback SET rating = 5"),
    ("complaint_surveys", "UPDATE complaint_surveys SET sha256 = '00'"),
]  # fmt: skip


def test_ledger_verify_passes_after_a_case_life_and_names_the_edited_table(app, runner, people):
    live_case(app, people)
    ok = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert ok.exit_code == 0, ok.output
    with engine_of(app).begin() as conn:
        conn.execute(sa.text("UPDATE complaint_cases SET severity = 'low'"))
    bad = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert bad.exit_code == 1
    assert "TAMPERED" in bad.output and "complaint_cases" in bad.output


def test_every_complaint_table_edited_behind_the_ledgers_back_is_named(app, people):
    live_case(app, people)
    engine = engine_of(app)
    assert _problem(engine) is None
    for table, statement in TAMPERING:
        snapshot = _dump(engine, table)
        with engine.begin() as conn:
            assert conn.execute(sa.text(statement)).rowcount > 0, statement
        problem = _problem(engine)
        assert problem is not None and problem.table == table, (statement, problem)
        _restore(engine, *snapshot)
    assert _problem(engine) is None


def _problem(engine: sa.Engine) -> ledger.Discrepancy | None:
    """The first discrepancy verify finds with the complaint projections (None: all good)."""
    with Session(engine) as session:
        report = ledger.verify(session, projections=PROJECTIONS)
        session.rollback()
    return report.problem


def _dump(engine: sa.Engine, name: str) -> tuple[sa.Table, list[dict]]:
    with engine.connect() as conn:
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        return table, [dict(r._mapping) for r in conn.execute(sa.select(table))]


def _restore(engine: sa.Engine, table: sa.Table, rows: list[dict]) -> None:
    """Put the rows back as they were (by key where other rows point at them)."""
    keys = [c.name for c in table.primary_key.columns]
    with engine.begin() as conn:
        if table.name in ("complaint_cases", "complaint_case_events", "complaint_clusters"):
            for row in rows:
                where = [table.c[k] == row[k] for k in keys]
                conn.execute(table.update().where(*where).values(**row))
        else:
            conn.execute(table.delete())
            conn.execute(table.insert(), rows)


def outbreak_life(app) -> None:
    """Two unrelated cases sharing the planted lot (a cluster and its alert), notices about
    the lot, one survey answer, a hold."""
    from datetime import UTC, datetime, timedelta

    from complaints import notices
    from tests.complaints.world import build_world, planted_outbreak
    from trace.access import Viewer

    desk = Viewer(actor="user:1", role="desk")
    with session_scope(engine_of(app)) as s:
        world = build_world(s, prefix="v")
        planted_outbreak(s, world)
        case_ids = []
        for k, order in enumerate(world.orders["ill"][:3:2] + world.orders["ill"][3:4]):
            case_ids.append(
                service.open_case(
                    session=s,
                    data={
                        "channel": "phone", "category": "illness", "description": f"ill {k}",
                        "onset_at": datetime.now(UTC) - timedelta(hours=5), "symptoms": ["fever"],
                        "order_ids": [order],
                        "complainant": {"name": f"N{k}", "phone": f"1380000{k:04d}"},
                    },
                    actor="user:1",
                ).case.id
            )  # fmt: skip
        sent = notices.send_notices(
            session=s, viewer=desk, case_id=case_ids[0], kind="lot", ident=world.lettuce_lot,
            survey_url="https://x/{token}",
        )  # fmt: skip
        first = sent.sent[0]
        notices.answer_notice(
            session=s, token=first.token, user_id=first.user_id, ill=True,
            onset_at=datetime.now(UTC) - timedelta(hours=2), symptoms=["fever"],
        )  # fmt: skip
        notices.hold_source(session=s, viewer=desk, kind="lot", ident=world.lettuce_lot, reason="r")


OUTBREAK_TAMPERING = [
    ("complaint_clusters", "UPDATE complaint_clusters SET alerted_at = NULL"),
    ("complaint_cluster_members", "UPDATE complaint_cluster_members SET shared = '[]'"),
    ("complaint_notices", "UPDATE complaint_notices SET answer_ill = false WHERE answer_ill"),
    ("complaint_notices", "DELETE FROM complaint_notices WHERE answered_at IS NULL"),
]


def test_clusters_and_notices_verify_and_tampering_is_named(app, people):
    # The world's order rows are written without the ordering flow's entries, so only the
    # complaint projections are verified here (the holds' trace entries are trace's own).
    outbreak_life(app)
    engine = engine_of(app)
    assert _problem(engine) is None
    for table, statement in OUTBREAK_TAMPERING:
        snapshot = _dump(engine, table)
        with engine.begin() as conn:
            assert conn.execute(sa.text(statement)).rowcount > 0, statement
        problem = _problem(engine)
        assert problem is not None and problem.table == table, (statement, problem)
        _restore(engine, *snapshot)
    assert _problem(engine) is None
