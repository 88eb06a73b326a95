"""A campus semester for benchmarks and demos: `flask --app app demo generate`.

Everything is written through the domain services, or through their bulk paths that append
the same ledger entries (trace.service.receive_lots / produce_batches for a merchant's day of
lots and batches, under one anchoring entry each, as an upload is; orders.menu.open_batches;
orders.placement.write_batch for orders, allocations and payments; orders.bulk.carry_many for
the kitchen and the delivery; sensors.ingest.ingest_many for readings), so every row has its
entry and `ledger verify` passes. Deterministic for a given seed: one random.Random per day,
derived from the seed, and a fixed semester start (not the clock).

Per day: each merchant receives its lots (greens, protein, staple), cooks one batch per dish
sized to the day's orders, and opens it on the menu; students order at lunch and dinner (in
five-minute groups through write_batch, paid in the next group); every order is accepted,
made ready, assigned, picked up in its courier's box and dropped off; every box's sensor
reports once a minute through the service hours; some orders get complaints.

Planted incidents (returned as `Incidents` and printed by the CLI):
- a contaminated lettuce lot received by one merchant and transferred to two others, each
  cooking it into its salad on the incident day: those batches' orders fall ill at a raised
  rate and complain (category illness, naming the order);
- a courier whose chilled box runs warm (about 11 degC) through every lunch service: its
  lunch deliveries fail their cold-chain verdict;
- unrelated background complaints over all orders (foreign objects, spoiled, temperature,
  hygiene, other, and the odd unrelated illness).
"""

from __future__ import annotations

import functools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from accounts import service as accounts
from complaints import service as complaints
from orders import bulk, menu
from orders.access import Actor
from orders.checkout import Address, LineRequest, OrderRequest, delivery_food_class
from orders.placement import PaymentOutcome, Placed, write_batch
from orders.rules import OrdersConfig
from sensors import ingest
from sensors import service as sensors
from sensors.profiles import policy
from sensors.readings import parse_json_readings
from trace import masterdata
from trace import service as trace
from trace.access import SYSTEM, Viewer
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.masterdata import CertificateData
from trace.models import Product, Supplier

START = datetime(2026, 2, 23, tzinfo=UTC)  # a Monday; the semester's first day (UTC midnight)
ORDERS_PER_STUDENT_DAY = 0.34  # 30,000 students x 100 days -> about 1,020,000 orders
STUDENTS_PER_MERCHANT = 500  # at least 60 merchants at 30,000 students
STUDENTS_PER_BOX = 120  # couriers (one box and one sensor each): 250 at 30,000 students
# service hours in UTC (Asia/Shanghai 10:00-14:00 and 16:00-20:00): sensors report each minute
SERVICE = ((2 * 60, 6 * 60), (8 * 60, 12 * 60))
MEALS = ((2 * 60 + 40, 5 * 60 + 20, 0.6), (8 * 60 + 40, 11 * 60 + 20, 0.4))  # start, end, share
SLOT_MINUTES = 5  # orders are written in five-minute groups (one write_batch each)
GROUP_MAX = 400  # at most this many requests per write_batch
ILLNESS_RATE = 0.08  # orders of the contaminated batches that complain of illness
BACKGROUND_RATE = 0.001  # other orders that complain about something unrelated
EXCURSION = (3 * 60, 5 * 60)  # the warm box's lunch excursion, minutes after midnight UTC
DAY_STEPS = 5  # progress units per day: trace, orders, deliveries, readings, complaints

DISHES = (  # key, product, dish name, price in fen, food class, inputs (product key, kg/portion)
    ("salad", "凉拌生菜 Lettuce salad", "凉拌鸡丝沙拉 Chicken lettuce salad", 1600, "cold",
     (("lettuce", 0.15), ("chicken", 0.08))),
    ("rice", "宫保鸡丁饭 Kung pao chicken rice", "宫保鸡丁饭 Kung pao chicken rice", 1500, "hot",
     (("chicken", 0.15), ("rice", 0.2))),
    ("egg", "番茄炒蛋饭 Tomato egg rice", "番茄炒蛋饭 Tomato egg rice", 1200, "hot",
     (("eggs", 0.1), ("rice", 0.2))),
    ("noodle", "牛肉面 Beef noodles", "牛肉面 Beef noodles", 1400, "hot",
     (("beef", 0.12), ("noodles", 0.18))),
)  # fmt: skip
INGREDIENTS = (  # key, product, supplier key, storage, shelf days
    ("lettuce", "生菜 Lettuce", "greens", "chilled", 5),
    ("chicken", "鸡腿肉 Chicken thigh", "poultry", "chilled", 4),
    ("rice", "大米 Rice", "grain", "ambient", 300),
    ("eggs", "鸡蛋 Eggs", "eggs", "chilled", 20),
    ("beef", "牛肉 Beef", "meat", "chilled", 4),
    ("noodles", "面条 Noodles", "grain", "ambient", 30),
)
SUPPLIERS = (  # key, name, licence, address
    ("greens", "绿源蔬菜 Green Source Vegetables", "SC11731010000101", "Chongming, Shanghai"),
    ("poultry", "嘉定禽业 Jiading Poultry", "SC10431010000202", "Jiading, Shanghai"),
    ("grain", "五常米业 Wuchang Rice", "SC10123010000303", "Wuchang, Heilongjiang"),
    ("eggs", "崇明蛋品 Chongming Eggs", "SC10431010000404", "Chongming, Shanghai"),
    ("meat", "松江肉品 Songjiang Meat", "SC10431010000505", "Songjiang, Shanghai"),
)
BUILDINGS = (*(f"Dorm {n} {n}号楼" for n in range(1, 25)), "Library 图书馆", "Lab B 实验楼")
BACKGROUND = (  # category, description
    ("foreign_object", "A hair in the food."),
    ("foreign_object", "A small piece of plastic wrap in the rice."),
    ("spoiled", "The sauce tasted sour."),
    ("temperature", "The food arrived lukewarm."),
    ("hygiene", "The container lid was greasy on the outside."),
    ("other", "The order was missing its chopsticks."),
    ("illness", "Stomach ache the evening after eating."),
)


@dataclass
class Incidents:
    """What was planted, by id, for benchmarks and tests to look for."""

    seed: int
    contaminated_lot: int = 0
    contaminated_lot_code: str = ""
    contaminated_merchants: list[int] = field(default_factory=list)
    contaminated_batches: list[int] = field(default_factory=list)
    contaminated_orders: int = 0
    illness_cases: list[int] = field(default_factory=list)
    excursion_courier: int = 0
    excursion_box: str = ""
    excursion_device: str = ""
    excursion_deliveries: list[int] = field(default_factory=list)
    background_cases: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A readable record (the CLI prints it)."""
        few = self.excursion_deliveries[:10]
        return [
            f"seed {self.seed}",
            f"contaminated lot {self.contaminated_lot} ({self.contaminated_lot_code}) reached "
            f"merchants {self.contaminated_merchants} in batches {self.contaminated_batches}",
            f"  {self.contaminated_orders} orders from those batches; "
            f"{len(self.illness_cases)} illness cases: {self.illness_cases[:20]}",
            f"excursion route: courier {self.excursion_courier}, box {self.excursion_box} "
            f"(sensor {self.excursion_device}); {len(self.excursion_deliveries)} lunch "
            f"deliveries in the warm window, e.g. {few}",
            f"background complaints (unrelated): {len(self.background_cases)} cases",
        ]


@dataclass
class Counts:
    """Rows written, by kind."""

    students: int = 0
    merchants: int = 0
    couriers: int = 0
    lots: int = 0
    batches: int = 0
    orders: int = 0
    lines: int = 0
    deliveries: int = 0
    readings: int = 0
    complaints: int = 0


@dataclass
class Semester:
    """What `generate` returns."""

    incidents: Incidents
    counts: Counts
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


@dataclass
class _Campus:
    merchants: list[int]
    items: dict[tuple[int, str], int]  # (merchant, dish key) -> menu item id
    products: dict[str, int]
    suppliers: dict[str, int]
    students: list[int]
    couriers: dict[str, list[tuple[int, str]]]  # food class -> [(courier id, box id)]
    devices: list[tuple[Any, str]]  # (device, curve: "hot", "cold" or "warm")


def sizes(students: int) -> tuple[int, int]:
    """(merchants, couriers) for a campus of `students`."""
    return max(3, -(-students // STUDENTS_PER_MERCHANT)), max(4, students // STUDENTS_PER_BOX)


def generate(
    *,
    session: Session,
    students: int = 30_000,
    days: int = 100,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Semester:
    """Write a semester (see the module docstring); `progress(n)` is told of DAY_STEPS a day
    (plus one for the campus). Returns the planted incidents and the counts."""
    if students < 10 or days < 1:
        raise ValueError("a semester needs at least 10 students and 1 day")
    tick = progress or (lambda _n: None)
    began = time.perf_counter()
    config = OrdersConfig.from_mapping()
    incidents = Incidents(seed=seed)
    counts = Counts()
    campus = _campus(session, students, seed, counts)
    tick(1)
    incident_day = days // 2
    warm = campus.couriers["cold"][0]
    incidents.excursion_courier, incidents.excursion_box = warm
    incidents.excursion_device = _device_id(warm[1])
    seconds = dict.fromkeys(("campus", "trace", "orders", "deliveries", "readings", "cases"), 0.0)
    seconds["campus"] = time.perf_counter() - began
    for day in range(days):
        rng = random.Random(f"{seed}:{day}")  # noqa: S311 (demo data, reproducible)
        plan = _plan(rng, campus, students)
        if day == incident_day:  # the three stalls sell their salad that day, whatever the draw
            plan = _with_salads(rng, campus, plan)
        clock = _Clock(seconds, tick)
        incident = day == incident_day
        batches = clock("trace", _cook(session, campus, day, plan, counts, incidents, incident))
        placed = clock("orders", _order(session, campus, day, plan, config, counts))
        clock("deliveries", _deliver(session, campus, placed, counts, incidents))
        clock("readings", _readings(session, campus, day, rng, counts))
        clock("cases", _complain(session, rng, placed, batches, counts, incidents, incident))
    return Semester(incidents, counts, seconds)


def derive_caches(session: Session) -> tuple[int, int]:
    """What the beat tasks would have done after a semester of service: store every finished
    delivery's cold-chain verdict (the dashboard) and roll up every settled day's exposures
    (source ranking). Returns (verdicts stored, days rolled up)."""
    from complaints import exposure_rollups
    from sensors import verdicts

    written = verdicts.judge_finished(session=session, lookback=None, limit=None)
    days = exposure_rollups.roll_up(session=session, max_days=None)
    return written, len(days)


class _Clock:
    """Adds each stage's wall time (since the previous stage ended) and ticks the progress."""

    def __init__(self, seconds: dict[str, float], tick: Callable[[int], None]) -> None:
        self.seconds, self.tick, self.last = seconds, tick, time.perf_counter()

    def __call__(self, stage: str, value: Any) -> Any:
        now = time.perf_counter()
        self.seconds[stage] += now - self.last
        self.last = now
        self.tick(1)
        return value


# --------------------------------------------------------------------------- the campus


def _campus(session: Session, students: int, seed: int, counts: Counts) -> _Campus:
    n_merchants, n_couriers = sizes(students)
    far = (START + timedelta(days=800)).date()
    opened = START - timedelta(days=7)
    suppliers = {
        key: _existing(session, Supplier, Supplier.licence_number, licence)
        or masterdata.register_supplier(
            session=session, viewer=SYSTEM, name=name, licence_number=licence, address=address,
            contact="Sales desk",
            certificates=[CertificateData("食品生产许可证", f"{licence}-C", far)],
        ).id or 0
        for key, name, licence, address in SUPPLIERS
    }  # fmt: skip
    kinds = [(key, name, "ingredient") for key, name, _s, _st, _d in INGREDIENTS]
    kinds += [(key, name, "dish") for key, name, *_rest in DISHES]
    products = {
        key: _existing(session, Product, Product.name, name)
        or masterdata.register_product(session=session, viewer=SYSTEM, name=name, category=cat).id
        or 0
        for key, name, cat in kinds
    }
    merchants = []
    for m in range(n_merchants):
        merchants.append(
            masterdata.register_merchant(
                session=session, viewer=SYSTEM, name=f"食堂档口 {m + 1:03d} Canteen stall {m + 1}",
                licence_number=f"JY23{seed % 10**5:05d}{m + 1:07d}", licence_expires_on=far,
                location=f"Canteen {m % 4 + 1} stall {m // 4 + 1}", contact="Stall manager",
            ).id or 0
        )  # fmt: skip
    admin = Actor(user_id=0, role="admin")
    items: dict[tuple[int, str], int] = {}
    for merchant in merchants:
        for key, _product, name, price, food_class, _inputs in DISHES:
            item = menu.save_menu_item(
                session=session, actor=admin, merchant_id=merchant,
                data=menu.MenuItemData(
                    name=name, price_fen=price, product_id=products[key], food_class=food_class
                ),
                now=opened,
            )  # fmt: skip
            items[(merchant, key)] = item.id or 0
    student_ids = []
    for first in range(0, students, 1000):  # one ledger write and one commit per 1,000
        made = accounts.create_users(
            session=session,
            specs=[
                accounts.UserSpec(
                    email=f"s{seed}-{n:06d}@students.campus.example",
                    role="student",
                    display_name=f"Student {n}",
                )
                for n in range(first, min(first + 1000, students))
            ],
            actor="system:semester",
        )
        student_ids += [m.user_id for m in made]
    couriers: dict[str, list[tuple[int, str]]] = {"hot": [], "cold": []}
    devices = []
    courier_ids = [
        made.user_id
        for made in accounts.create_users(
            session=session,
            specs=[
                accounts.UserSpec(
                    email=f"c{seed}-{n:04d}@couriers.campus.example", role="courier",
                    display_name=f"Courier {n}",
                )
                for n in range(n_couriers)
            ],
            actor="system:semester",
        )
    ]  # fmt: skip
    for n, courier_id in enumerate(courier_ids):
        food_class = "cold" if n % 5 < 2 else "hot"  # two chilled boxes in five
        box = _box(seed, food_class, n)
        couriers[food_class].append((courier_id, box))
        device = sensors.register_device(
            session=session, device_id=_device_id(box), kind="probe", box_id=box,
            calibrated_on=(START - timedelta(days=30)).date(), actor="system:semester",
            now=opened,
        ).device  # fmt: skip
        devices.append((device, "cold" if food_class == "cold" else "hot"))
    warm_box = couriers["cold"][0][1]
    devices = [
        (d, "warm" if d.box_id == warm_box else curve) for d, curve in devices
    ]  # the excursion route
    counts.students, counts.merchants, counts.couriers = students, n_merchants, n_couriers
    return _Campus(merchants, items, products, suppliers, student_ids, couriers, devices)


def _existing(session: Session, model: Any, column: Any, value: str) -> int | None:
    """The id of master data already recorded (the `make run` demo shares some products)."""
    return session.execute(select(model.id).where(column == value)).scalar()


def _box(seed: int, food_class: str, n: int) -> str:
    """A courier's box: BOX-COLD-0001 for the default seed; other seeds' boxes name the seed,
    so another semester can be written beside one already in the database."""
    at = "" if seed == 1 else f"S{seed}-"
    return f"BOX-{food_class.upper()}-{at}{n + 1:04d}"


def _device_id(box: str) -> str:
    return f"probe-{box.lower()}"


def _hot(minute: int) -> tuple[float, float, float]:
    return 66.0 + 2.5 * math.sin(minute / 45), -0.4, 0.4


def _cold(minute: int) -> tuple[float, float, float]:
    return 4.0 + 1.2 * math.sin(minute / 60), -0.3, 0.3


def _warm(minute: int) -> tuple[float, float, float]:
    if EXCURSION[0] <= minute < EXCURSION[1]:  # the lid does not close: warm all lunch
        return 11.0 + 1.5 * math.sin(minute / 20), -0.3, 0.3
    return _cold(minute)


CURVES = {"hot": _hot, "cold": _cold, "warm": _warm}


@functools.cache
def _profile(curve: str) -> tuple[tuple[float, float, float], ...]:
    """(level, noise low, noise high) of each service minute: the same every day."""
    return tuple(CURVES[curve](minute) for start, end in SERVICE for minute in range(start, end))


def _day_values(curve: str, rng: random.Random) -> list[float]:
    """A box's readings through the day's service minutes: the level plus uniform noise
    (`lo + (hi - lo) * random()`, as `rng.uniform` draws it), to the hundredth of a degree."""
    draw = rng.random
    return [round(level + (lo + (hi - lo) * draw()), 2) for level, lo, hi in _profile(curve)]


# --------------------------------------------------------------------------- one day


@dataclass(frozen=True, slots=True)
class _Planned:
    minute: int  # after midnight UTC
    student: int
    merchant: int
    lines: tuple[tuple[str, int], ...]  # (dish key, quantity)
    building: str


def _plan(rng: random.Random, campus: _Campus, students: int) -> list[_Planned]:
    """The day's orders, in time order (pure: a function of the random state)."""
    n = max(1, round(students * ORDERS_PER_STUDENT_DAY * rng.uniform(0.9, 1.1)))
    weights = [1.0 / (1 + i) ** 0.6 for i in range(len(campus.merchants))]  # popular stalls
    merchants = rng.choices(campus.merchants, weights=weights, k=n)
    keys = [d[0] for d in DISHES]
    out = []
    for merchant in merchants:
        start, end, _share = MEALS[0] if rng.random() < MEALS[0][2] else MEALS[1]
        first = rng.choice(keys)
        lines = [(first, 2 if rng.random() < 0.1 else 1)]
        if rng.random() < 0.15:
            second = rng.choice([k for k in keys if k != first])
            lines.append((second, 1))
        out.append(
            _Planned(
                rng.randrange(start, end), rng.choice(campus.students), merchant, tuple(lines),
                rng.choice(BUILDINGS),
            )
        )  # fmt: skip
    out.sort(key=lambda p: p.minute)
    return out


def _shared(campus: _Campus) -> list[int]:
    """The three merchants the contaminated lot reaches (spread over the campus)."""
    return campus.merchants[:: max(1, len(campus.merchants) // 3)][:3]


def _with_salads(rng: random.Random, campus: _Campus, plan: list[_Planned]) -> list[_Planned]:
    extra = [
        _Planned(
            rng.randrange(MEALS[0][0], MEALS[0][1]), rng.choice(campus.students), merchant,
            (("salad", 1),), rng.choice(BUILDINGS),
        )
        for merchant in _shared(campus)
        for _ in range(5)
    ]  # fmt: skip
    return sorted(plan + extra, key=lambda p: p.minute)


def _cook(
    session: Session, campus: _Campus, day: int, plan: list[_Planned], counts: Counts,
    incidents: Incidents, incident: bool,
) -> dict[int, str]:  # fmt: skip
    """Receive the day's lots, cook one batch per ordered dish and open it; batch id -> key."""
    portions: dict[tuple[int, str], int] = {}
    for p in plan:
        for key, qty in p.lines:
            portions[(p.merchant, key)] = portions.get((p.merchant, key), 0) + qty
    midnight = START + timedelta(days=day)
    received = midnight + timedelta(minutes=30)
    cooked = midnight + timedelta(minutes=100)
    stamp = midnight.strftime("%m%d")
    shared = _shared(campus) if incident else []
    shared_lot = 0
    if incident:  # the contaminated lettuce: received by the first, shipped to the other two
        need = sum(portions.get((m, "salad"), 0) for m in shared) * 0.15 + 3.0
        shared_lot = _receive(
            session, campus, shared[0], "lettuce", f"LET-{stamp}-X", need, received
        )
        for target in shared[1:]:
            share = portions.get((target, "salad"), 0) * 0.15 + 1.0
            trace.transfer_lot(
                session=session, viewer=Viewer("system:semester", "merchant", shared[0]),
                lot_id=shared_lot, to_merchant_id=target, quantity=round(share, 3), unit="kg",
                shipped_at=received + timedelta(minutes=10), now=received + timedelta(minutes=10),
            )  # fmt: skip
        counts.lots += 1
        incidents.contaminated_lot = shared_lot
        incidents.contaminated_lot_code = f"LET-{stamp}-X"
        incidents.contaminated_merchants = list(shared)
    admin = Actor(user_id=0, role="admin")
    batch_keys: dict[int, str] = {}
    for m_index, merchant in enumerate(campus.merchants):
        dishes = [(d, portions.get((merchant, d[0]), 0)) for d in DISHES]
        dishes = [(d, n) for d, n in dishes if n]
        if not dishes:
            continue
        need: dict[str, float] = {}
        for (_k, _p, _n, _price, _c, inputs), n in dishes:
            for ingredient, kg in inputs:
                need[ingredient] = need.get(ingredient, 0.0) + kg * n
        viewer = Viewer("system:semester", "merchant", merchant)
        receipts = {
            ingredient: _receipt(
                campus, ingredient, f"{ingredient[:3].upper()}-{stamp}-{m_index + 1:03d}",
                kg + 1.0, received,
            )
            for ingredient, kg in sorted(need.items())
            if not (ingredient == "lettuce" and merchant in shared)
        }  # fmt: skip
        ids = trace.receive_lots(
            session=session, viewer=viewer, receipts=list(receipts.values()), now=received
        )
        lots = dict(zip(receipts, ids, strict=True))
        counts.lots += len(ids)
        if "lettuce" in need and merchant in shared:
            lots["lettuce"] = shared_lot
        productions = []
        for (key, _p, _n, _price, _c, inputs), n in dishes:
            uses = tuple(
                InputUse(quantity=round(kg * n, 3), unit="kg", kind="lot", id=lots[ingredient])
                for ingredient, kg in inputs
            )
            code = f"D{key.upper()}-{stamp}-{m_index + 1:03d}"
            productions.append(
                BatchProduction(
                    batch_code=code, product_id=campus.products[key], quantity=n,
                    unit="portion", completed_at=cooked, inputs=uses,
                    location=f"Kitchen of stall {m_index + 1}",
                    reference_document_type="生产记录 production log",
                    reference_document_number=f"PL-{code}",
                )
            )  # fmt: skip
        made = trace.produce_batches(
            session=session, viewer=viewer, productions=productions, now=cooked
        )
        keys = [d[0][0] for d in dishes]
        openings = [(campus.items[(merchant, k)], b, None) for k, b in zip(keys, made, strict=True)]
        menu.open_batches(
            session=session, actor=admin, openings=openings, now=cooked + timedelta(minutes=5)
        )
        for key, batch_id in zip(keys, made, strict=True):
            batch_keys[batch_id] = key
            counts.batches += 1
            if key == "salad" and merchant in shared:
                incidents.contaminated_batches.append(batch_id)
    return batch_keys


def _receipt(campus: _Campus, ingredient: str, code: str, kg: float, at: datetime) -> LotReceipt:
    _key, _name, supplier, storage, shelf = next(i for i in INGREDIENTS if i[0] == ingredient)
    return LotReceipt(
        tlc=code, product_id=campus.products[ingredient], quantity=round(kg, 3), unit="kg",
        received_at=at, supplier_id=campus.suppliers[supplier], tlc_source=f"{supplier} packing",
        location="Cold room" if storage == "chilled" else "Dry store",
        reference_document_type="送货单 delivery note", reference_document_number=f"DN-{code}",
        expiry_date=(at + timedelta(days=shelf)).date(), storage=storage,
    )  # fmt: skip


def _receive(
    session: Session, campus: _Campus, merchant: int, ingredient: str, code: str, kg: float,
    at: datetime,
) -> int:  # fmt: skip
    viewer = Viewer("system:semester", "merchant", merchant)
    receipt = _receipt(campus, ingredient, code, kg, at)
    lot = trace.receive_lot(session=session, viewer=viewer, receipt=receipt, now=at)
    return lot.id or 0


@dataclass(frozen=True, slots=True)
class _Order:
    order_id: int
    student: int
    merchant: int
    at: datetime
    food_class: str


def _order(
    session: Session, campus: _Campus, day: int, plan: list[_Planned], config: OrdersConfig,
    counts: Counts,
) -> list[_Order]:  # fmt: skip
    """Place the day's orders in five-minute groups through write_batch; each group also
    carries the payment outcomes (paid) of the group before it."""
    midnight = START + timedelta(days=day)
    groups: dict[int, list[tuple[int, _Planned]]] = {}
    for n, p in enumerate(plan):
        groups.setdefault(p.minute // SLOT_MINUTES, []).append((n, p))
    classes = {d[0]: d[4] for d in DISHES}
    placed: list[_Order] = []
    unpaid: list[PaymentOutcome] = []
    chunks = [
        (slot, members[i : i + GROUP_MAX])
        for slot, members in sorted(groups.items())
        for i in range(0, len(members), GROUP_MAX)
    ]
    for slot, members in chunks:
        at = midnight + timedelta(minutes=slot * SLOT_MINUTES)
        requests = [
            OrderRequest(
                user_id=p.student, merchant_id=p.merchant,
                items=tuple(LineRequest(campus.items[(p.merchant, k)], q) for k, q in p.lines),
                address=Address(p.building, f"{100 + n % 600}"),
                idempotency_key=f"sem-{day}-{n}",
            )
            for n, p in members
        ]  # fmt: skip
        result = write_batch(
            session=session, requests=requests, outcomes=unpaid, config=config, now=at
        )
        unpaid = []
        for (_n, p), done in zip(members, result.placed, strict=True):
            if not isinstance(done, Placed):
                raise RuntimeError(f"the semester's order was refused: {done}")
            food_class = delivery_food_class([classes[k] for k, _q in p.lines])
            placed.append(_Order(done.order_id, p.student, p.merchant, at, food_class))
            counts.lines += len(p.lines)
            unpaid.append(
                PaymentOutcome(
                    done.order_id, "paid", gateway_id=f"SIM-{done.order_id}",
                    at=at + timedelta(seconds=20),
                )
            )  # fmt: skip
    if unpaid:
        last = midnight + timedelta(minutes=max(p.minute for p in plan) + 1)
        write_batch(session=session, outcomes=unpaid, config=config, now=last)
    counts.orders += len(placed)
    return placed


def _deliver(
    session: Session, campus: _Campus, placed: list[_Order], counts: Counts, incidents: Incidents
) -> None:
    """Every order: accepted, ready, assigned, picked up in a box, dropped off, through the
    bulk path (orders.bulk.carry_many: the same rows and entries as the one-at-a-time
    services, one transaction per thousand orders)."""
    kitchen = Actor(user_id=0, role="admin")
    turn = {"hot": 0, "cold": 0}
    warm_courier = incidents.excursion_courier
    carries, warm = [], []
    for o in placed:
        fleet = "cold" if o.food_class in ("cold", "frozen") else "hot"
        courier, box = campus.couriers[fleet][turn[fleet] % len(campus.couriers[fleet])]
        turn[fleet] += 1
        pickup = o.at + timedelta(minutes=15)
        carries.append(
            bulk.Carry(
                order_id=o.order_id, courier_id=courier, box_id=box,
                seal_number=f"FS{o.order_id:08d}",
                accepted_at=o.at + timedelta(minutes=2), ready_at=o.at + timedelta(minutes=12),
                assigned_at=o.at + timedelta(minutes=13), picked_up_at=pickup,
                dropped_off_at=o.at + timedelta(minutes=35),
            )
        )  # fmt: skip
        minute = pickup.hour * 60 + pickup.minute
        warm.append(
            courier == warm_courier and EXCURSION[0] <= minute and minute + 20 <= EXCURSION[1]
        )
    delivered = bulk.carry_many(session=session, kitchen=kitchen, carries=carries)
    counts.deliveries += len(delivered)
    incidents.excursion_deliveries += [d for d, w in zip(delivered, warm, strict=True) if w]


def _readings(
    session: Session, campus: _Campus, day: int, rng: random.Random, counts: Counts
) -> None:
    """Every box's sensor, once a minute through the service hours, through ingest_many."""
    midnight = START + timedelta(days=day)
    now = midnight + timedelta(hours=23)
    most = policy().max_readings_per_batch
    minutes = [minute for start, end in SERVICE for minute in range(start, end)]
    times = [(midnight + timedelta(minutes=minute)).isoformat() for minute in minutes]
    batches = []
    for device, curve in campus.devices:
        items = [
            {"time": at, "value": value, "unit": "CEL"}
            for at, value in zip(times, _day_values(curve, rng), strict=True)
        ]
        for i in range(0, len(items), most):
            batches.append((device, parse_json_readings(items[i : i + most], now=now)))
    for i in range(0, len(batches), 50):
        results = ingest.ingest_many(session=session, batches=batches[i : i + 50], channel="demo")
        counts.readings += sum(r.accepted for r in results)


def _complain(
    session: Session, rng: random.Random, placed: list[_Order], batches: dict[int, str],
    counts: Counts, incidents: Incidents, incident: bool,
) -> None:  # fmt: skip
    """Illness from the contaminated batches (incident day) and unrelated background cases."""
    sick: set[int] = set()
    if incident and incidents.contaminated_batches:
        from orders.models import OrderLine
        from trace.models import BatchAllocation

        stmt = (
            select(OrderLine.order_id)
            .join(BatchAllocation, BatchAllocation.order_line_id == OrderLine.id)  # type: ignore[arg-type]
            .where(BatchAllocation.batch_id.in_(incidents.contaminated_batches))  # type: ignore[attr-defined]
            .distinct()
        )
        exposed = set(session.execute(stmt).scalars())
        incidents.contaminated_orders = len(exposed)
        ordered = sorted(exposed)
        n_sick = max(3, round(len(ordered) * ILLNESS_RATE))
        sick = set(rng.sample(ordered, min(n_sick, len(ordered))))
    for o in placed:
        if o.order_id in sick:
            onset = o.at + timedelta(hours=rng.uniform(8, 30))
            opened_at = onset + timedelta(hours=rng.uniform(1, 12))
            data = {
                "channel": "app", "category": "illness",
                "description": "Vomiting and diarrhoea after the chicken lettuce salad.",
                "symptoms": ["vomiting", "diarrhoea", "cramps"], "onset_at": onset,
                "n_party": 1, "n_ill": 1, "n_exposed": 1, "order_ids": [o.order_id],
                "consent": {"health_data_processing": True},
                "complainant": {"user_id": o.student}, "merchant_id": o.merchant,
                "remedy_sought": ["refund", "investigation"],
            }  # fmt: skip
            case = _open(session, data, o, opened_at)
            incidents.illness_cases.append(case)
        elif rng.random() < BACKGROUND_RATE:
            category, text = rng.choice(BACKGROUND)
            opened_at = o.at + timedelta(hours=rng.uniform(1, 20))
            data = {
                "channel": "app", "category": category, "description": text,
                "order_ids": [o.order_id], "complainant": {"user_id": o.student},
                "merchant_id": o.merchant,
            }  # fmt: skip
            if category == "illness":
                data |= {
                    "onset_at": opened_at - timedelta(hours=2),
                    "symptoms": ["cramps"],
                    "consent": {"health_data_processing": True},
                }
            incidents.background_cases.append(_open(session, data, o, opened_at))
        else:
            continue
        counts.complaints += 1


def _open(session: Session, data: dict[str, Any], o: _Order, at: datetime) -> int:
    opened = complaints.open_case(
        session=session, data=data, actor=f"user:{o.student}",
        idempotency_key=f"sem-case-{o.order_id}", now=at,
    )  # fmt: skip
    return opened.case.id or 0


def table_counts(session: Session) -> dict[str, int]:
    """Rows per table the generator writes (for tests and benchmarks)."""
    from accounts.models import User
    from complaints.models import Case
    from orders.models import Delivery, Order, OrderLine
    from sensors.models import Reading
    from trace.models import BatchAllocation, DishBatch, IngredientLot

    models = {
        "users": User, "lots": IngredientLot, "batches": DishBatch, "orders": Order,
        "lines": OrderLine, "allocations": BatchAllocation, "deliveries": Delivery,
        "readings": Reading, "cases": Case,
    }  # fmt: skip
    return {
        name: int(session.execute(select(func.count()).select_from(model)).scalar_one())
        for name, model in models.items()
    }


def total_steps(days: int) -> int:
    """Progress units `generate` reports for `days` days."""
    return 1 + DAY_STEPS * days


__all__ = ["Counts", "Incidents", "Semester", "generate", "sizes", "table_counts", "total_steps"]
