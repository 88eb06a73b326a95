"""verify(): every kind of tampering is found and named (first index, table, row), on SQLite and
PostgreSQL. The attacker has direct database access and bypasses the triggers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlmodel import Session

import ledger
from ledger import Event
from tests.ledger import reference as ref
from tests.ledger.tampering import tamper
from tests.ledger.test_checkpoints import _rewrite

metadata = MetaData()
orders = Table(
    "demo_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("status", String(20), nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("phone", String(20)),
    Column("placed_at", DateTime(timezone=True), nullable=False),
    Column("ledger_index", BigInteger),
)
ORDERS = ledger.TableProjection(
    "demo_orders",
    writes={"order.placed", "order.status"},
    removes={"order.deleted"},
    key="subject.order",
    columns=["status", "total_cents", "phone", "placed_at"],
)
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


# a miniature domain service: row and entry in one transaction, as DESIGN.md requires
def place(session: Session, order: int) -> int:
    at = T0 + timedelta(minutes=order)
    payload = {"status": "placed", "total_cents": 1000 + order, "phone": f"1380000{order:04d}"}
    entry = ledger.append(
        session,
        Event(
            "order.placed",
            {**payload, "placed_at": at},
            subject={"order": order},
            personal=frozenset({"phone"}),
        ),
    )
    session.execute(
        insert(orders).values(id=order, placed_at=at, ledger_index=entry.index, **payload)
    )
    return entry.index


def set_status(session: Session, order: int, status: str) -> int:
    entry = ledger.append(
        session, Event("order.status", {"status": status}, subject={"order": order})
    )
    values = {"status": status, "ledger_index": entry.index}
    session.execute(update(orders).where(orders.c.id == order).values(**values))
    return entry.index


def remove(session: Session, order: int) -> int:
    entry = ledger.append(session, Event("order.deleted", {}, subject={"order": order}))
    session.execute(delete(orders).where(orders.c.id == order))
    return entry.index


@dataclass
class Shop:
    engine: Engine
    signer: ledger.Signer
    placed: dict[int, int]  # order -> index of its order.placed entry
    last: dict[int, int]  # order -> index of its last entry

    def verify(self, **kwargs: object) -> ledger.VerifyReport:
        with Session(self.engine) as session:
            return ledger.verify(
                session, public_key=self.signer.public_key, projections=[ORDERS], **kwargs
            )

    def entry(self, index: int) -> ledger.Entry:
        with Session(self.engine) as session:
            return ledger.entry_at(session, index)


@pytest.fixture
def shop(engine: Engine, signer: ledger.Signer) -> Shop:
    metadata.drop_all(engine)
    metadata.create_all(engine)
    placed: dict[int, int] = {}
    last: dict[int, int] = {}
    with Session(engine) as session:
        for order in range(1, 25):
            placed[order] = last[order] = place(session, order)
            ledger.append(session, Event("test.noise", {"n": order}))
            if order % 3 == 0:
                last[order] = set_status(session, order, "delivered")
            if order == 10:
                ledger.checkpoint(session, signer)
                session.commit()
        last[7] = remove(session, 7)
        ledger.checkpoint(session, signer)
        session.commit()
    return Shop(engine, signer, placed, last)


def test_an_untouched_ledger_verifies_with_progress(shop: Shop) -> None:
    calls: list[tuple[int, int]] = []
    report = shop.verify(progress=lambda done, total: calls.append((done, total)), chunk_size=16)
    assert report.ok, report.problem
    assert report.entries_checked == report.size == shop.last[7] + 1
    assert report.checkpoints_checked == 2 and report.signatures_checked
    assert report.rows_checked == 23
    assert calls[-1] == (report.size, report.size) and len(calls) > 3
    with Session(shop.engine) as session:
        assert report.root == ledger.root_at(session, report.size)


def _expect(report: ledger.VerifyReport, index: int | None, table: str, row: object) -> None:
    assert report.problem is not None
    assert (report.problem.index, report.problem.table, report.problem.row) == (
        index,
        table,
        str(row),
    ), report.problem
    with pytest.raises(ledger.TamperDetected):
        report.raise_if_tampered()


def test_edited_entry_is_named(shop: Shop) -> None:
    index = shop.placed[12]
    forged = shop.entry(index).data.replace(b'"total_cents":1012', b'"total_cents":12')
    tamper(shop.engine, "UPDATE ledger_entry SET entry = :d WHERE idx = :i", d=forged, i=index)
    _expect(shop.verify(), index, "ledger_entry", index)


def test_edited_entry_with_recomputed_leaf_hash_is_named_by_its_subtree(shop: Shop) -> None:
    index = 20  # even: the level-1 node stored with entry 21 covers entries 20..21
    forged = shop.entry(index).data + b" "
    tamper(
        shop.engine,
        "UPDATE ledger_entry SET entry = :d, leaf_hash = :h WHERE idx = :i",
        d=forged,
        h=ref.leaf(forged),
        i=index,
    )
    _expect(shop.verify(), index, "ledger_entry", index + 1)


def test_deleted_entry_is_named(shop: Shop) -> None:
    tamper(shop.engine, "DELETE FROM ledger_entry WHERE idx = 33")
    _expect(shop.verify(), 33, "ledger_entry", 33)


def test_reordered_entries_are_named(shop: Shop) -> None:
    for old, new in ((40, -1), (41, 40), (-1, 41)):
        tamper(shop.engine, "UPDATE ledger_entry SET idx = :n WHERE idx = :o", n=new, o=old)
    _expect(shop.verify(), 40, "ledger_entry", 40)


def test_changed_interior_node_is_named(shop: Shop) -> None:
    nodes = bytearray(_nodes(shop, 15))  # entry 15 stores the roots of 14..15, 12..15, 8..15, 0..15
    nodes[32 + 5] ^= 0x10  # the level-2 node: entries 12..15
    tamper(shop.engine, "UPDATE ledger_entry SET nodes = :n WHERE idx = 15", n=bytes(nodes))
    _expect(shop.verify(), 12, "ledger_entry", 15)


def _nodes(shop: Shop, index: int) -> bytes:
    with shop.engine.connect() as conn:
        from sqlalchemy import text

        return bytes(
            conn.execute(
                text("SELECT nodes FROM ledger_entry WHERE idx = :i"), {"i": index}
            ).scalar_one()
        )


def test_changed_leaf_hash_is_named(shop: Shop) -> None:
    tamper(shop.engine, "UPDATE ledger_entry SET leaf_hash = :h WHERE idx = 5", h=bytes(32))
    _expect(shop.verify(), 5, "ledger_entry", 5)


def test_changed_type_column_is_named(shop: Shop) -> None:
    tamper(
        shop.engine, "UPDATE ledger_entry SET type = 'test.noise' WHERE idx = :i", i=shop.placed[4]
    )
    _expect(shop.verify(), shop.placed[4], "ledger_entry", shop.placed[4])


def test_tampered_head_is_named(shop: Shop) -> None:
    tamper(shop.engine, "UPDATE ledger_head SET frontier = :f", f=bytes(32 * 4))
    report = shop.verify()
    assert report.problem is not None and report.problem.table == "ledger_head"


def test_rows_appended_behind_the_head_are_named(shop: Shop) -> None:
    size = shop.verify().size
    tamper(shop.engine, "UPDATE ledger_head SET size = :s, frontier = :f", s=size - 1, f=b"x" * 32)
    report = shop.verify()
    assert report.problem is not None and report.problem.index is not None
    assert report.problem.index <= size - 1


@pytest.mark.parametrize(
    "column,value",
    [("status", "refunded"), ("total_cents", 1), ("placed_at", T0 - timedelta(days=1))],
)
def test_edited_domain_row_is_named(shop: Shop, column: str, value: object) -> None:
    with shop.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == 9).values({column: value}))
    expected_index = shop.last[9] if column == "status" else shop.placed[9]
    _expect(shop.verify(), expected_index, "demo_orders", 9)


def test_edited_personal_column_is_named_while_the_salt_exists(shop: Shop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == 5).values(phone="19999999999"))
    _expect(shop.verify(), shop.placed[5], "demo_orders", 5)


def test_erased_personal_data_still_verifies(shop: Shop) -> None:
    with Session(shop.engine) as session:
        ledger.erase_personal_data(session, [shop.placed[5]])
        session.execute(update(orders).where(orders.c.id == 5).values(phone=None))
        session.commit()
    assert shop.verify().ok


def test_deleted_domain_row_is_named(shop: Shop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(delete(orders).where(orders.c.id == 18))
    _expect(shop.verify(), shop.last[18], "demo_orders", 18)


def test_forged_domain_row_is_named(shop: Shop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(insert(orders).values(id=99, status="placed", total_cents=1, placed_at=T0))
    _expect(shop.verify(), None, "demo_orders", 99)


def test_resurrected_domain_row_is_named(shop: Shop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(
            insert(orders).values(
                id=7, status="placed", total_cents=1007, placed_at=T0, ledger_index=shop.placed[7]
            )
        )
    _expect(shop.verify(), shop.last[7], "demo_orders", 7)


def test_row_citing_another_entry_is_named(shop: Shop) -> None:
    with shop.engine.begin() as conn:
        conn.execute(update(orders).where(orders.c.id == 3).values(ledger_index=shop.placed[3]))
    _expect(shop.verify(), shop.placed[3], "demo_orders", 3)


@pytest.mark.parametrize(
    "change",
    [
        lambda note: note.replace("\n", "\n ", 1),  # origin line altered
        lambda note: note[:-10] + ("A" if note[-10] != "A" else "B") + note[-9:],  # signature
    ],
    ids=["text", "signature"],
)
def test_altered_checkpoint_note_is_named(shop: Shop, change: Callable[[str], str]) -> None:
    with Session(shop.engine) as session:
        note = ledger.all_checkpoints(session)[0].note
    tamper(shop.engine, "UPDATE ledger_checkpoint SET note = :n WHERE seq = 0", n=change(note))
    _expect(shop.verify(), None, "ledger_checkpoint", 0)


def test_altered_checkpoint_root_column_is_named(shop: Shop) -> None:
    tamper(shop.engine, "UPDATE ledger_checkpoint SET root = :r WHERE seq = 1", r=bytes(32))
    _expect(shop.verify(), None, "ledger_checkpoint", 1)


def test_consistently_rewritten_log_is_caught_by_the_signed_checkpoint(shop: Shop) -> None:
    with Session(shop.engine) as session:
        data = [e.data for e in ledger.entries(session, 0, 10_000)]
        first = ledger.all_checkpoints(session)[0].size
    index = shop.placed[17]  # after the first checkpoint, before the second
    data[index] = data[index].replace(b'"total_cents":1017', b'"total_cents":17')
    _rewrite(shop.engine, data)
    report = shop.verify()
    _expect(report, first, "ledger_checkpoint", 1)
    assert report.problem is not None and first <= index


def test_truncated_log_is_caught_by_the_signed_checkpoint(shop: Shop) -> None:
    with Session(shop.engine) as session:
        size = ledger.tree_size(session)
        leaves = [e.leaf_hash for e in ledger.entries(session, 0, size - 3)]
    tamper(shop.engine, "DELETE FROM ledger_entry WHERE idx >= :s", s=size - 3)
    from ledger.tree import frontier_hashes

    tamper(
        shop.engine,
        "UPDATE ledger_head SET size = :s, frontier = :f",
        s=size - 3,
        f=b"".join(frontier_hashes(leaves)),
    )
    _expect(shop.verify(), size - 3, "ledger_checkpoint", 1)


@pytest.mark.parametrize("running", [True, False], ids=["read-committed", "snapshot"])
def test_writes_during_verification_are_not_mistaken_for_tampering(
    pg_engine: Engine, signer: ledger.Signer, running: bool
) -> None:
    metadata.drop_all(pg_engine)
    metadata.create_all(pg_engine)
    with Session(pg_engine) as session:
        for order in range(1, 4):
            place(session, order)
        ledger.checkpoint(session, signer)
        session.commit()
    writes: list[int] = []

    def concurrent_writer(done: int, total: int) -> None:
        if writes:
            return
        with Session(pg_engine) as writer:  # another request, committing meanwhile
            writes.append(set_status(writer, 2, "delivered"))
            writes.append(remove(writer, 3))
            ledger.checkpoint(writer, signer)
            writer.commit()

    with Session(pg_engine) as reader:
        if running:
            reader.execute(select(1))  # a transaction is already running: READ COMMITTED
        report = ledger.verify(
            reader,
            public_key=signer.public_key,
            projections=[ORDERS],
            progress=concurrent_writer,
            chunk_size=1,
        )
    assert writes and report.ok, report.problem
    assert report.size == 3
