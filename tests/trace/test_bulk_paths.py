"""The bulk paths behind uploads and large traces: code look-ups across chunk boundaries,
rows written through COPY (PostgreSQL) or executemany (SQLite) read back unchanged, and id
queries past the IN-list chunk size."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import ledger
from tests.trace.campus import DESK, NOW, lot_input, merchant_viewer, production, receipt
from trace import checks, neighbourhood, queries, recording, service
from trace.models import PROJECTIONS, IngredientLot
from trace.problems import BIG_CHUNK


def test_taken_codes_finds_codes_in_every_chunk_and_only_the_merchants(session, campus):
    codes = [f"C{i:06d}" for i in range(2 * BIG_CHUNK + 7)]
    picked = [codes[0], codes[BIG_CHUNK], codes[-1]]  # first, past one chunk, last
    ids = recording.insert_lots(
        session, campus.north, [receipt(campus, c) for c in picked], actor="test"
    )
    [other] = recording.insert_lots(
        session, campus.south, [receipt(campus, codes[3])], actor="test"
    )
    [batch] = recording.insert_batches(
        session,
        campus.north,
        [production(campus, codes[5], [lot_input(ids[0])])],
        [[_resolved(ids[0], campus.north)]],
        actor="test",
    )
    session.commit()
    used = checks.taken_codes(session, campus.north, [*codes, codes[0]])
    expected = {c: f"lot {i}" for c, i in zip(picked, ids, strict=True)}
    assert used == expected | {codes[5]: f"batch {batch}"}
    assert codes[3] not in used  # the south canteen's lot code is free for the north
    assert checks.taken_codes(session, campus.south, codes) == {codes[3]: f"lot {other}"}
    without = checks.taken_codes(session, campus.north, picked, exclude=("lot", ids[1]))
    assert set(without) == {picked[0], picked[2]}
    assert checks.taken_codes(session, campus.north, []) == {}


def _resolved(lot_id, merchant_id):  # type: ignore[no-untyped-def]
    from trace.commands import ResolvedInput

    return ResolvedInput(
        kind="lot", id=lot_id, merchant_id=merchant_id, status="active", at=NOW - timedelta(days=1)
    )


AWKWARD = [
    "tab\there",
    "back\\slash \\N",
    "new\nline\r",
    "引号 \"quoted\" 'single'",
    "emoji 🥬, comma",
]


def test_bulk_written_rows_read_back_exactly_and_verify(session, campus):
    receipts = [
        receipt(
            campus,
            f"AWK-{i}",
            location=text,
            tlc_source_reference=None if i % 2 else text,
            reference_document_number=text,
            quantity=0.1 + i,
        )
        for i, text in enumerate(AWKWARD)
    ]
    ids = recording.insert_lots(session, campus.north, receipts, actor="test")
    session.commit()
    session.expire_all()
    lots = session.execute(
        select(IngredientLot).where(IngredientLot.id.in_(ids)).order_by(IngredientLot.id)
    ).scalars()
    got = [
        (
            lot.tlc,
            lot.location,
            lot.tlc_source_reference,
            lot.reference_document_number,
            lot.quantity,
        )
        for lot in lots
    ]
    assert got == [
        (r.tlc, r.location, r.tlc_source_reference, r.reference_document_number, r.quantity)
        for r in receipts
    ]
    lot = session.get(IngredientLot, ids[0])
    assert lot.received_at == NOW - timedelta(days=1) and lot.received_at.tzinfo is not None
    assert lot.expiry_date == receipts[0].expiry_date and lot.status == "active"
    assert ledger.verify(session, projections=PROJECTIONS).ok


def test_a_forward_trace_past_the_chunk_size_reaches_every_order_line(session, campus):
    lot = service.receive_lot(
        session=session,
        viewer=merchant_viewer(campus.north),
        receipt=receipt(campus, "BIG"),
        now=NOW,
    )
    batch = service.produce_batch(
        session=session,
        viewer=merchant_viewer(campus.north),
        production=production(campus, "B-BIG", [lot_input(lot.id)]),
        now=NOW,
    )
    lines = neighbourhood.CHUNK + 321
    service.record_allocations(
        session=session,
        allocations=[(line, batch.id, 1.0, NOW) for line in range(1, lines + 1)],
        actor="test",
    )
    result = queries.trace(
        session=session, viewer=DESK, kind="lot", ident=lot.id, direction="forward"
    )
    assert result.count("order_line") == lines
    labels = {n.id: n.label for n in result.nodes if n.kind == "order_line"}
    assert labels[str(lines)] == f"order line {lines}" and len(labels) == lines
    back = queries.trace(
        session=session, viewer=DESK, kind="order_line", ident=lines, direction="backward"
    )
    assert {(n.kind, n.id) for n in back.nodes} == {
        ("order_line", str(lines)),
        ("batch", str(batch.id)),
        ("lot", str(lot.id)),
        ("supplier", str(campus.greens)),
    }


def test_taken_codes_are_found_whatever_the_codes_hold(session, campus):
    odd = ["two\nlines", "tab\there", "plain", "引号 'q'"]
    ids = recording.insert_lots(
        session, campus.north, [receipt(campus, c) for c in odd], actor="test"
    )
    session.commit()
    expected = {c: f"lot {i}" for c, i in zip(odd, ids, strict=True)}
    # PostgreSQL sends codes as one text of lines unless a code spans lines or is empty
    assert checks.taken_codes(session, campus.north, [*odd[1:], "two", "lines"]) == {
        c: expected[c] for c in odd[1:]
    }
    assert checks.taken_codes(session, campus.north, [*odd, "", "x"]) == expected
