"""The demo campus: idempotent, merchant 1 is the North Canteen, one lettuce lot feeds three
merchants, one certificate expires soon, and `ledger verify` checks every row it made."""

from __future__ import annotations

from sqlalchemy import func, select, text

import ledger
from tests.trace.campus import DESK
from trace import demo, queries
from trace.models import PROJECTIONS, IngredientLot, Merchant, SupplierCertificate


def test_seeding_twice_adds_nothing_the_second_time(session):
    demo.seed(session=session)
    counts = [
        session.execute(select(func.count()).select_from(m)).scalar()
        for m in (Merchant, IngredientLot)
    ]
    size = ledger.tree_size(session)
    demo.seed(session=session)
    again = [
        session.execute(select(func.count()).select_from(m)).scalar()
        for m in (Merchant, IngredientLot)
    ]
    assert again == counts and ledger.tree_size(session) == size


def test_merchant_one_is_the_north_canteen(session):
    demo.seed(session=session)
    assert session.get(Merchant, 1).name == "北区食堂 North Canteen"


def test_one_lettuce_lot_reaches_batches_of_all_three_merchants(session):
    demo.seed(session=session)
    lot = session.execute(
        select(IngredientLot).where(IngredientLot.tlc == "LET-0301-A")
    ).scalar_one()
    result = queries.trace(
        session=session, viewer=DESK, kind="lot", ident=lot.id, direction="forward"
    )
    merchants = {n.merchant_id for n in result.nodes if n.kind == "batch"}
    assert merchants == {1, 2, 3}


def test_a_supplier_certificate_expires_within_the_warning_window(session):
    demo.seed(session=session)
    soonest = session.execute(select(func.min(SupplierCertificate.expires_on))).scalar()
    latest_received = session.execute(select(func.max(IngredientLot.received_at))).scalar()
    assert 0 < (soonest - latest_received.date()).days <= 30


def test_ledger_verify_passes_after_seeding_and_names_the_table_of_an_edited_lot(session):
    demo.seed(session=session)
    assert ledger.verify(session, projections=PROJECTIONS).ok
    session.execute(
        text("UPDATE ingredient_lots SET quantity = quantity + 1 WHERE tlc = 'CHK-0301-07'")
    )
    session.commit()
    report = ledger.verify(session, projections=PROJECTIONS)
    assert not report.ok and report.problem.table == "ingredient_lots"


def test_the_ledger_verify_command_checks_the_trace_tables(app, runner):
    from web.db import get_session

    with app.app_context():
        demo.seed(session=get_session())
    assert runner.invoke(args=["ledger", "verify", "--quiet"]).exit_code == 0
    with app.app_context():
        session = get_session()
        session.execute(
            text("UPDATE dish_batches SET location = 'elsewhere' WHERE batch_code = 'S-TE-0301'")
        )
        session.commit()
    result = runner.invoke(args=["ledger", "verify", "--quiet"])
    assert result.exit_code == 1 and "table dish_batches" in result.output
