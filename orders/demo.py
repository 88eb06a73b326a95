"""Demo data for `make run`: students, menus for the three demo canteens, and a day of orders
and deliveries (idempotent: nothing is added once the first demo order exists).

Everything goes through the services, so `ledger verify` passes. The menus serve the trace
demo's batches; deliveries ride in the sensors demo's boxes (BOX-001 hot, BOX-002 chilled,
BOX-003 ambient) at times its readings cover, so one hot delivery shows the afternoon dip of
BOX-001 as an excursion. The day also shows a payment deferred while the gateway was down
(reconciled later), a declined payment, a rejected order and a broken seal.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from accounts import service as accounts
from accounts.models import User
from demo.seed import DEMO_PASSWORD
from orders import billing, delivery, fulfilment, menu
from orders.access import Actor
from orders.checkout import Address, LineRequest, OrderRequest
from orders.gateway_sim import SimulatedGateway, set_gateway_mode
from orders.models import Order
from orders.placement import write_batch
from orders.rules import OrdersConfig
from trace.models import DishBatch, Merchant, Product

STUDENTS = (
    ("student@demo.foodtrace", "Student Wang 王同学"),
    ("student2@demo.foodtrace", "Student Li 李同学"),
    ("student3@demo.foodtrace", "Student Zhang 张同学"),
    ("student4@demo.foodtrace", "Student Chen 陈同学"),
)
COURIERS = (
    ("courier@demo.foodtrace", "Courier Li 骑手李"),
    ("courier2@demo.foodtrace", "Courier Zhao 骑手赵"),
)
# merchant licence, product, dish name, price in fen, food class, allergens, batch code
DISHES = (
    ("JY13101150000001", "宫保鸡丁饭 Kung pao chicken rice", "宫保鸡丁饭 Kung pao chicken rice",
     1500, "hot", ("花生 peanut", "大豆 soy"), "N-KP-0301"),
    ("JY13101150000001", "鸡肉沙拉 Chicken salad", "鸡肉沙拉 Chicken salad", 1800, "cold",
     ("芝麻 sesame",), "N-SALAD-0301"),
    ("JY13101150000002", "番茄炒蛋饭 Tomato egg rice", "番茄炒蛋饭 Tomato egg rice", 1200, "hot",
     ("鸡蛋 egg",), "S-TE-0301"),
    ("JY13101150000002", "凉拌生菜 Lettuce salad", "凉拌生菜 Lettuce salad", 800, "cold", (),
     "S-LET-0301"),
    ("JY13101150000003", "鸡肉沙拉 Chicken salad", "东区鸡肉沙拉 East chicken salad", 1600, "cold",
     ("芝麻 sesame",), "E-SALAD-0301"),
)  # fmt: skip
BOXES = {"hot": "BOX-001", "cold": "BOX-002", "frozen": "BOX-002", "ambient": "BOX-003"}
BUILDINGS = ("North Dorm 3 北区3号楼", "South Dorm 7 南区7号楼", "Library 图书馆", "Lab Building B")


def _user(session: Session, email: str, role: str, name: str) -> User:
    found = session.exec(select(User).where(User.email == email)).first()
    if found is not None:
        return found
    return accounts.create_user(
        session=session, email=email, role=role, password=DEMO_PASSWORD, display_name=name,
        actor="demo",
    ).user  # fmt: skip


def seed(*, session: Session, now: datetime | None = None) -> None:
    """Seed the demo ordering day once (needs the trace demo's merchants and batches)."""
    if session.exec(select(Order.id).where(Order.idempotency_key == "demo-1")).first():
        return
    now = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    merchants = {m.licence_number: m for m in session.exec(select(Merchant)).all()}
    if not all(d[0] in merchants for d in DISHES):
        return  # no trace demo: nothing to serve
    students = [_user(session, e, "student", n) for e, n in STUDENTS]
    couriers = [_user(session, e, "courier", n) for e, n in COURIERS]
    start = now - timedelta(hours=24)
    items = _menus(session, merchants, start + timedelta(hours=3))
    engine = session.get_bind()
    gateway = SimulatedGateway(engine)  # type: ignore[arg-type]
    config = OrdersConfig.from_mapping()
    set_gateway_mode(session=session, mode="healthy", actor="demo")
    # (minutes after start, student, dish index, quantity, how far it gets)
    plan = (
        (240, 0, 0, 1, "delivered"), (300, 1, 1, 2, "delivered"), (420, 2, 2, 1, "delivered"),
        (590, 3, 0, 2, "delivered"),  # picked up as BOX-001 cools: an excursion
        (700, 0, 3, 1, "delivered_broken_seal"), (800, 1, 4, 1, "rejected"),
        (900, 0, 0, 1, "declined"), (1300, 3, 2, 2, "out_for_delivery"),
        (1340, 0, 1, 1, "ready"), (1380, 1, 0, 1, "accepted"), (1400, 0, 3, 2, "deferred"),
        (1410, 3, 2, 1, "placed"),
    )  # fmt: skip
    for n, (minute, who, dish, qty, fate) in enumerate(plan, start=1):
        at = start + timedelta(minutes=minute)
        item, merchant_user = items[dish]
        student = students[who]
        assert student.id is not None and item.id is not None
        request = OrderRequest(
            user_id=student.id,
            merchant_id=item.merchant_id,
            items=(LineRequest(item.id, qty),),
            address=Address(BUILDINGS[n % len(BUILDINGS)], f"{100 + 7 * n}"),
            idempotency_key=f"demo-{n}",
        )
        placed = write_batch(session=session, requests=[request], config=config, now=at).placed[0]
        assert not isinstance(placed, Exception), placed
        order_id = placed.order_id
        mode = {"declined": "failing", "deferred": "down"}.get(fate, "healthy")
        if mode != "healthy":
            set_gateway_mode(session=session, mode=mode, actor="demo")
        billing.pay_order(
            session=session, gateway=gateway, order_id=order_id, config=config, now=at
        )
        if mode != "healthy":
            set_gateway_mode(session=session, mode="healthy", actor="demo")
        _carry(session, order_id, fate, at, merchant_user, couriers[n % 2], item.food_class)
        if fate == "rejected":  # it was paid: the kitchen's rejection refunds it in full
            billing.refund_rejected(
                session=session, gateway=gateway, config=config, order_ids=[order_id], now=at
            )


def _menus(
    session: Session, merchants: dict[str, Merchant], opened: datetime
) -> list[tuple[object, Actor]]:
    products = {p.name: p for p in session.exec(select(Product)).all()}
    out = []
    for licence, product, name, price, food_class, allergens, code in DISHES:
        merchant = merchants[licence]
        assert merchant.id is not None
        admin = Actor(user_id=0, role="admin")
        item = menu.save_menu_item(
            session=session,
            actor=admin,
            merchant_id=merchant.id,
            data=menu.MenuItemData(
                name=name, price_fen=price, product_id=products[product].id or 0,
                food_class=food_class, allergens=allergens,
                description="",
            ),
            now=opened,
        )  # fmt: skip
        batch = session.exec(
            select(DishBatch).where(
                DishBatch.merchant_id == merchant.id, DishBatch.batch_code == code
            )
        ).one()
        assert item.id is not None and batch.id is not None
        menu.open_batch(
            session=session, actor=admin, menu_item_id=item.id, batch_id=batch.id, now=opened
        )
        out.append((item, Actor(user_id=0, role="admin")))
    return out


def _carry(
    session: Session,
    order_id: int,
    fate: str,
    at: datetime,
    kitchen: Actor,
    courier: User,
    food_class: str,
) -> None:
    """Move a demo order as far as its fate says, minutes apart."""
    if fate in ("declined", "deferred", "placed"):
        return
    if fate == "rejected":
        fulfilment.reject(
            session=session, actor=kitchen, order_id=order_id, reason="售罄 out of salad",
            now=at + timedelta(minutes=3),
        )  # fmt: skip
        return
    fulfilment.accept(
        session=session, actor=kitchen, order_id=order_id, now=at + timedelta(minutes=2)
    )
    if fate == "accepted":
        return
    fulfilment.mark_ready(
        session=session, actor=kitchen, order_id=order_id, now=at + timedelta(minutes=12)
    )
    if fate == "ready":
        return
    assert courier.id is not None
    rider = Actor(courier.id, "courier")
    d = delivery.assign(
        session=session, actor=rider, order_id=order_id, courier_id=courier.id,
        now=at + timedelta(minutes=13),
    )  # fmt: skip
    assert d.id is not None
    seal = f"FS{order_id:06d}"
    delivery.pickup(
        session=session, actor=rider, delivery_id=d.id, box_id=BOXES[food_class],
        seal_number=seal, now=at + timedelta(minutes=15),
    )  # fmt: skip
    if fate == "out_for_delivery":
        return
    delivery.dropoff(
        session=session, actor=rider, delivery_id=d.id,
        seal_number=seal if fate == "delivered" else f"FS{order_id + 900:06d}",
        now=at + timedelta(minutes=38),
    )  # fmt: skip
