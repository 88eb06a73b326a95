"""A small outbreak world for trace-back, clusters and source ranking.

Three merchants each make a salad from ONE lettuce lot (received by merchant A, shipped in
part to B and C) plus their own other lots; a fourth merchant serves noodles. Trace records go
through the trace services (with their ledger entries). Orders, lines, allocations and
deliveries are written as rows the way the ordering flow leaves them (no payment round trip:
the ranking reads only those links); `place_real_order` uses the real ordering service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from accounts import service as accounts
from orders.models import Delivery, MenuItem, Order, OrderLine
from trace import masterdata
from trace import service as trace_service
from trace.access import SYSTEM, Viewer
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.models import BatchAllocation

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    merchants: list[int]
    lettuce_lot: int
    lettuce_supplier: int
    salad_batches: list[int]
    other_batches: list[int]
    items: dict[str, int]
    students: list[int]
    courier: int
    orders: dict[str, list[int]] = field(default_factory=dict)


def _merchant_viewer(m: int) -> Viewer:
    return Viewer(actor=f"test:m{m}", role="merchant", merchant_id=m)


def build_world(session: Session, *, n_students: int = 30, prefix: str = "w") -> World:
    far = (NOW + timedelta(days=365)).date()
    merchants = [
        masterdata.register_merchant(
            session=session,
            viewer=SYSTEM,
            name=f"Stall {c}",
            licence_number=f"JY-{prefix}-{c}",
            licence_expires_on=far,
        ).id
        for c in "ABCD"
    ]
    green = masterdata.register_supplier(
        session=session, viewer=SYSTEM, name="Green Farm", licence_number=f"SC-{prefix}-1"
    ).id
    other = masterdata.register_supplier(
        session=session, viewer=SYSTEM, name="Other Farm", licence_number=f"SC-{prefix}-2"
    ).id
    lettuce = masterdata.register_product(
        session=session, viewer=SYSTEM, name=f"Lettuce {prefix}"
    ).id
    carrot = masterdata.register_product(session=session, viewer=SYSTEM, name=f"Carrot {prefix}").id
    salad = masterdata.register_product(
        session=session, viewer=SYSTEM, name=f"Salad {prefix}", category="dish"
    ).id
    noodle = masterdata.register_product(
        session=session, viewer=SYSTEM, name=f"Noodles {prefix}", category="dish"
    ).id
    received = NOW - timedelta(days=3)

    def lot(m: int, tlc: str, product: int, supplier: int) -> int:
        row = trace_service.receive_lot(
            session=session,
            viewer=_merchant_viewer(m),
            receipt=LotReceipt(
                tlc=tlc,
                product_id=product,
                quantity=100,
                unit="kg",
                received_at=received,
                supplier_id=supplier,
            ),
        )
        assert row.id is not None
        return row.id

    planted = lot(merchants[0], f"LET-{prefix}", lettuce, green)
    for m in merchants[1:3]:
        trace_service.transfer_lot(
            session=session,
            viewer=_merchant_viewer(merchants[0]),
            lot_id=planted,
            to_merchant_id=m,
            quantity=10,
            unit="kg",
            shipped_at=received + timedelta(hours=1),
        )
    # The green farm also supplied carrots everybody uses: the supplier is exposed widely.
    carrots = [lot(m, f"CAR-{prefix}-{m}", carrot, green) for m in merchants]
    spare = [lot(m, f"OTH-{prefix}-{m}", carrot, other) for m in merchants]

    def batch(m: int, code: str, product: int, lots: list[int]) -> int:
        made = trace_service.produce_batch(
            session=session,
            viewer=_merchant_viewer(m),
            production=BatchProduction(
                batch_code=code,
                product_id=product,
                quantity=100,
                unit="portion",
                completed_at=NOW - timedelta(days=2),
                inputs=tuple(InputUse(quantity=1, unit="kg", kind="lot", id=i) for i in lots),
            ),
        )
        assert made.id is not None
        return made.id

    salads = [
        batch(m, f"SAL-{prefix}-{m}", salad, [planted, carrots[k]])
        for k, m in enumerate(merchants[:3])
    ]
    others = [
        batch(m, f"SOUP-{prefix}-{m}", noodle, [spare[k], carrots[k]])
        for k, m in enumerate(merchants)
    ]
    items: dict[str, int] = {}
    for k, m in enumerate(merchants):
        if k < 3:
            items[f"salad{k}"] = _item(session, m, salad, f"Salad {k}")
        items[f"soup{k}"] = _item(session, m, noodle, f"Soup {k}")
    students = []
    for i in range(n_students):
        made = accounts.create_user(
            session=session,
            email=f"{prefix}-eater{i}@uni.edu",
            role="student",
            password="long enough password",
            display_name=f"Eater {i}",
        )
        students.append(int(made.user.id))  # type: ignore[arg-type]
    courier = accounts.create_user(
        session=session,
        email=f"{prefix}-rider@uni.edu",
        role="courier",
        password="long enough password",
    ).user.id
    session.commit()
    return World(merchants, planted, green, salads, others, items, students, int(courier))  # type: ignore[arg-type]


def _item(session: Session, merchant: int, product: int, name: str) -> int:
    row = MenuItem(
        merchant_id=merchant, product_id=product, name=name, price_fen=1500, food_class="cold"
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def add_order(
    session: Session,
    world: World,
    *,
    user: int,
    merchant: int,
    item: int,
    batch: int,
    at: datetime | None = None,
    courier: int | None = None,
) -> int:
    """An order of one dish served from `batch`, as the ordering flow records it."""
    at = at or NOW - timedelta(hours=30)
    order = Order(
        user_id=user,
        merchant_id=merchant,
        idempotency_key=f"k-{user}-{merchant}-{item}-{at.timestamp()}-{batch}",
        request_digest="0" * 64,
        status="delivered",
        payment_status="paid",
        total_fen=1500,
        created_at=at,
        paid_at=at,
    )
    session.add(order)
    session.flush()
    line = OrderLine(
        order_id=order.id,  # type: ignore[arg-type]
        menu_item_id=item,
        name="dish",
        unit_price_fen=1500,
        quantity=1,
        food_class="cold",
    )
    session.add(line)
    session.flush()
    session.add(BatchAllocation(order_line_id=line.id, batch_id=batch, quantity=1, allocated_at=at))  # type: ignore[arg-type]
    if courier is not None:
        session.add(
            Delivery(
                order_id=order.id,  # type: ignore[arg-type]
                courier_id=courier,
                status="delivered",
                food_class="cold",
                assigned_at=at,
            )
        )
    session.flush()
    assert order.id is not None
    return order.id


def planted_outbreak(session: Session, world: World) -> dict[str, list[int]]:
    """Nine ill salad eaters (three at each of A, B, C: all from the planted lettuce lot), and
    healthy eaters: 3 more salads per merchant, 4 soups per merchant. Returns order ids."""
    ill, healthy = [], []
    student = iter(world.students)
    for k in range(3):
        m, item, batch = world.merchants[k], world.items[f"salad{k}"], world.salad_batches[k]
        for _ in range(3):
            ill.append(
                add_order(
                    session,
                    world,
                    user=next(student),
                    merchant=m,
                    item=item,
                    batch=batch,
                    courier=world.courier,
                )
            )
        healthy.append(
            add_order(session, world, user=next(student), merchant=m, item=item, batch=batch)
        )
    for k, m in enumerate(world.merchants):
        for _ in range(4):
            healthy.append(
                add_order(
                    session, world, user=next(student), merchant=m,
                    item=world.items[f"soup{k}"], batch=world.other_batches[k],
                    courier=world.courier if k == 3 else None,
                )
            )  # fmt: skip
    session.commit()
    world.orders = {"ill": ill, "healthy": healthy}
    return world.orders


__all__ = ["NOW", "World", "add_order", "build_world", "date", "planted_outbreak"]
