"""Fixtures for the ordering tests: a migrated database copied from a template (SQLite) or
cloned (PostgreSQL), and a small campus - two merchants with menus served from open batches,
students, merchant users, couriers, desk and admin - built through the services."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

import app as composition
from accounts import service as accounts
from orders import menu
from orders.access import Actor
from orders.checkout import Address, LineRequest, OrderRequest
from orders.gateway_sim import SimulatedGateway
from orders.rules import OrdersConfig
from tests.conftest import TEST_DB
from trace import masterdata
from trace import service as trace_service
from trace.access import SYSTEM, Viewer
from trace.commands import BatchProduction, InputUse, LotReceipt

PASSWORD = "orders-test-password"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Campus]:
    """One migrated SQLite file holding the campus per run; each test gets a copy (migrating
    and building cost seconds)."""
    from accounts import passwords

    passwords.use_cheap_parameters_for_tests()
    path = tmp_path_factory.mktemp("orders-template") / "template.sqlite3"
    eng = composition.make_engine(f"sqlite:///{path}")
    composition.upgrade_database(eng)
    with Session(eng, expire_on_commit=False) as s:
        built = build_campus(s)
    raw = eng.raw_connection()
    try:  # fold the WAL into the file, so copying the file copies everything
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    eng.dispose()
    return path, built


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: tuple[Path, Campus]
) -> str:
    if TEST_DB == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    target = tmp_path / "test.sqlite3"
    shutil.copy(_sqlite_template[0], target)
    return f"sqlite:///{target}"


@pytest.fixture
def config() -> OrdersConfig:
    return OrdersConfig.from_mapping({"ORDERS_PAYMENT_TIMEOUT_SECONDS": 0.5})


@pytest.fixture
def gateway(engine: Engine) -> SimulatedGateway:
    return SimulatedGateway(engine, sleep=lambda _s: None)


@dataclass
class Campus:
    """Ids and tokens of the test campus."""

    now: datetime
    merchant: int
    other_merchant: int
    dish: int  # product of the rice dish
    rice: int  # menu item of merchant 1, 10 portions in batch A then 5 in batch B
    salad: int  # menu item of merchant 1 (cold), 20 portions
    noodles: int  # menu item of the other merchant, 10 portions
    batch_a: int
    batch_b: int
    lot: int
    users: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        role = {
            "student": "student",
            "student2": "student",
            "merchant": "merchant",
            "merchant2": "merchant",
            "courier": "courier",
            "courier2": "courier",
            "desk": "desk",
            "admin": "admin",
        }[name]
        merchant = {"merchant": self.merchant, "merchant2": self.other_merchant}.get(name)
        return Actor(self.users[name], role, merchant)

    def request(
        self,
        *,
        key: str = "key-1",
        who: str = "student",
        items: tuple[tuple[int, int], ...] | None = None,
        merchant: int | None = None,
        expected_total_fen: int | None = None,
    ) -> OrderRequest:
        """An order request of `who` (default: 2 rice from merchant 1)."""
        return OrderRequest(
            user_id=self.users[who],
            merchant_id=merchant or self.merchant,
            items=tuple(LineRequest(i, q) for i, q in (items or ((self.rice, 2),))),
            address=Address("North Dorm 3", "301", "13800000000"),
            idempotency_key=key,
            expected_total_fen=expected_total_fen,
        )


def _batch(
    session: Session, merchant: int, product: int, lot: int, code: str, portions: int, at: datetime
) -> int:
    viewer = Viewer(actor="test", role="merchant", merchant_id=merchant)
    production = BatchProduction(
        batch_code=code,
        product_id=product,
        quantity=portions,
        unit="portion",
        completed_at=at,
        inputs=(InputUse(quantity=0.1, unit="kg", kind="lot", id=lot),),
    )
    batch = trace_service.produce_batch(session=session, viewer=viewer, production=production)
    assert batch.id is not None
    return batch.id


def build_campus(session: Session) -> Campus:
    """Merchants, products, lots, batches, menus and users, all through the services."""
    now = datetime.now(UTC)
    far = (now + timedelta(days=365)).date()
    m1 = masterdata.register_merchant(
        session=session,
        viewer=SYSTEM,
        name="North Canteen",
        licence_number="JY-T-1",
        licence_expires_on=far,
    ).id
    m2 = masterdata.register_merchant(
        session=session,
        viewer=SYSTEM,
        name="East Noodles",
        licence_number="JY-T-2",
        licence_expires_on=far,
    ).id
    assert m1 is not None and m2 is not None
    grain = masterdata.register_product(session=session, viewer=SYSTEM, name="Rice grain").id
    rice_dish = masterdata.register_product(
        session=session, viewer=SYSTEM, name="Fried rice", category="dish"
    ).id
    salad_dish = masterdata.register_product(
        session=session, viewer=SYSTEM, name="Green salad", category="dish"
    ).id
    noodle_dish = masterdata.register_product(
        session=session, viewer=SYSTEM, name="Noodle soup", category="dish"
    ).id
    assert grain and rice_dish and salad_dish and noodle_dish
    lots = []
    for merchant in (m1, m2):
        viewer = Viewer(actor="test", role="merchant", merchant_id=merchant)
        lot = trace_service.receive_lot(
            session=session,
            viewer=viewer,
            receipt=LotReceipt(
                tlc=f"GRAIN-{merchant}",
                product_id=grain,
                quantity=50,
                unit="kg",
                received_at=now - timedelta(hours=6),
            ),
        )
        assert lot.id is not None
        lots.append(lot.id)
    made = now - timedelta(hours=2)
    batch_a = _batch(session, m1, rice_dish, lots[0], "RICE-A", 10, made)
    batch_b = _batch(session, m1, rice_dish, lots[0], "RICE-B", 5, made + timedelta(minutes=30))
    salad_batch = _batch(session, m1, salad_dish, lots[0], "SALAD-A", 20, made)
    noodle_batch = _batch(session, m2, noodle_dish, lots[1], "NOODLE-A", 10, made)
    users, tokens = {}, {}
    for name, role, merchant in (
        ("student", "student", None),
        ("student2", "student", None),
        ("merchant", "merchant", m1),
        ("merchant2", "merchant", m2),
        ("courier", "courier", None),
        ("courier2", "courier", None),
        ("desk", "desk", None),
        ("admin", "admin", None),
    ):
        created = accounts.create_user(
            session=session,
            email=f"{name}@orders.test",
            role=role,
            password=PASSWORD,
            merchant_id=merchant,
            display_name=name,
        )
        assert created.user.id is not None
        users[name], tokens[name] = created.user.id, created.api_token
    chef1 = Actor(users["merchant"], "merchant", m1)
    chef2 = Actor(users["merchant2"], "merchant", m2)

    def item(chef: Actor, name: str, price: int, product: int, food_class: str) -> int:
        saved = menu.save_menu_item(
            session=session,
            actor=chef,
            data=menu.MenuItemData(
                name=name,
                price_fen=price,
                product_id=product,
                food_class=food_class,
                allergens=("soy",),
            ),
        )
        assert saved.id is not None
        return saved.id

    rice = item(chef1, "Fried rice", 1500, rice_dish, "hot")
    salad = item(chef1, "Green salad", 900, salad_dish, "cold")
    noodles = item(chef2, "Noodle soup", 1200, noodle_dish, "hot")
    opened = now - timedelta(hours=1)
    menu.open_batch(session=session, actor=chef1, menu_item_id=rice, batch_id=batch_a, now=opened)
    menu.open_batch(
        session=session,
        actor=chef1,
        menu_item_id=rice,
        batch_id=batch_b,
        now=opened + timedelta(minutes=1),
    )
    menu.open_batch(session=session, actor=chef1, menu_item_id=salad, batch_id=salad_batch)
    menu.open_batch(session=session, actor=chef2, menu_item_id=noodles, batch_id=noodle_batch)
    session.rollback()
    return Campus(
        now=now,
        merchant=m1,
        other_merchant=m2,
        dish=rice_dish,
        rice=rice,
        salad=salad,
        noodles=noodles,
        batch_a=batch_a,
        batch_b=batch_b,
        lot=lots[0],
        users=users,
        tokens=tokens,
    )


@pytest.fixture
def campus(request: pytest.FixtureRequest, engine: Engine) -> Campus:
    """The campus in the test's database (SQLite: already in the copied file)."""
    if TEST_DB == "sqlite":
        return request.getfixturevalue("_sqlite_template")[1]  # type: ignore[no-any-return]
    with Session(engine, expire_on_commit=False) as s:
        return build_campus(s)


@pytest.fixture
def app_campus(app, campus: Campus) -> Iterator[Campus]:  # type: ignore[no-untyped-def]
    """The campus, with the app (same database) built."""
    yield campus


def bearer(campus: Campus, who: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {campus.tokens[who]}", **extra}


def login(client, email: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in through the form (pages in English); returns the session's CSRF token."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    token = csrf_of(client.get("/login").data.decode())
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.data[:500]
    return csrf_of(client.get("/orders/").data.decode())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
