"""Demo campus for `make run`: suppliers, three canteen merchants, lots, batches and sub-batches.

Built only through the services, so every row has its ledger entry and `ledger verify` passes.
Idempotent: nothing is added once the North Canteen exists. Merchant 1 is "北区食堂 North
Canteen" (the demo merchant user is bound to merchant id 1: accounts seeds first). One lettuce
lot received by the North Canteen is transferred to the two other canteens and goes into all
three merchants' salads: the shared upstream source later investigations should find.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from trace import masterdata, service
from trace.access import SYSTEM, Viewer
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.masterdata import CertificateData
from trace.models import Merchant

NORTH_LICENCE = "JY13101150000001"


def _lot(
    session: Session, merchant: int, supplier: int, product: int, tlc: str, quantity: float,
    unit: str, received: datetime, shelf_days: int, storage: str, location: str,
) -> int:  # fmt: skip
    receipt = LotReceipt(
        tlc=tlc, product_id=product, quantity=quantity, unit=unit, received_at=received,
        supplier_id=supplier, tlc_source=f"{tlc[:3]} packing house", location=location,
        reference_document_type="送货单 delivery note", reference_document_number=f"DN-{tlc}",
        expiry_date=(received + timedelta(days=shelf_days)).date(), storage=storage,
    )  # fmt: skip
    viewer = Viewer(actor="system:demo", role="merchant", merchant_id=merchant)
    lot = service.receive_lot(session=session, viewer=viewer, receipt=receipt)
    assert lot.id is not None
    return lot.id


def _batch(
    session: Session, merchant: int, product: int, code: str, quantity: float, unit: str,
    completed: datetime, inputs: list[InputUse], location: str,
) -> int:  # fmt: skip
    production = BatchProduction(
        batch_code=code, product_id=product, quantity=quantity, unit=unit, completed_at=completed,
        inputs=tuple(inputs), location=location, reference_document_type="生产记录 production log",
        reference_document_number=f"PL-{code}",
    )  # fmt: skip
    viewer = Viewer(actor="system:demo", role="merchant", merchant_id=merchant)
    batch = service.produce_batch(session=session, viewer=viewer, production=production)
    assert batch.id is not None
    return batch.id


def _use(kind: str, ident: int, quantity: float, unit: str) -> InputUse:
    return InputUse(quantity=quantity, unit=unit, kind=kind, id=ident)  # type: ignore[arg-type]


def seed(*, session: Session, now: datetime | None = None) -> None:
    """Seed the demo campus once."""
    exists = select(Merchant.id).where(Merchant.licence_number == NORTH_LICENCE)
    if session.exec(exists).first() is not None:
        return
    now = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    far = (now + timedelta(days=700)).date()
    merchants = [
        masterdata.register_merchant(
            session=session, viewer=SYSTEM, name=name, licence_number=licence,
            licence_expires_on=far, location=location, contact=contact,
        ).id
        for name, licence, location, contact in MERCHANTS
    ]  # fmt: skip
    suppliers = {
        key: masterdata.register_supplier(
            session=session, viewer=SYSTEM, name=name, licence_number=licence, address=address,
            contact=contact,
            certificates=[CertificateData(kind, f"{licence}-C", now.date() + timedelta(days=days))],
        ).id
        for key, name, licence, address, contact, kind, days in SUPPLIERS
    }  # fmt: skip
    product = {
        name: masterdata.register_product(
            session=session, viewer=SYSTEM, name=name, category=cat
        ).id
        for name, cat in PRODUCTS
    }
    day = now - timedelta(days=1)
    lots: dict[str, int] = {}
    for code, merchant, supplier, name, qty, unit, hours, shelf, storage, place in LOTS:
        lots[code] = _lot(
            session, merchants[merchant], suppliers[supplier], product[name], code, qty, unit,
            day - timedelta(hours=hours), shelf, storage, place,
        )  # fmt: skip
    north = merchants[0]
    for target, kg in ((merchants[1], 8.0), (merchants[2], 5.0)):  # the shared lettuce lot
        service.transfer_lot(
            session=session, viewer=Viewer("system:demo", "merchant", north),
            lot_id=lots["LET-0301-A"], to_merchant_id=target, quantity=kg, unit="kg",
            shipped_at=day - timedelta(hours=1),
        )  # fmt: skip
    batches: dict[str, int] = {}
    for code, merchant, name, qty, unit, hours, inputs, place in BATCHES:
        uses = [
            _use(kind, lots[src] if kind == "lot" else batches[src], amount, u)
            for kind, src, amount, u in inputs
        ]
        batches[code] = _batch(
            session, merchants[merchant], product[name], code, qty, unit,
            day + timedelta(hours=hours), uses, place,
        )  # fmt: skip


MERCHANTS = (  # name, food business licence, canteen / stall, contact
    ("北区食堂 North Canteen", NORTH_LICENCE, "North Canteen 1F", "Manager Chen 021-5550101"),
    ("南区食堂 South Canteen", "JY13101150000002", "South Canteen 2F", "Manager Liu 021-5550102"),
    ("东区面馆 East Noodle Bar", "JY13101150000003", "East Hall stall 3", "Mr Zhou 021-5550103"),
)
# key, name, licence, address, contact, certificate kind, days until the certificate expires
SUPPLIERS = (
    ("greens", "绿源蔬菜 Green Source Vegetables", "SC11731010000101", "Chongming, Shanghai",
     "Ms Zhao", "食品经营许可证", 700),
    ("poultry", "嘉定禽业 Jiading Poultry", "SC10431010000202", "Jiading, Shanghai",
     "Mr Sun", "食品生产许可证", 12),  # expiring soon: shows on the completeness pages
    ("grain", "五常米业 Wuchang Rice", "SC10123010000303", "Wuchang, Heilongjiang",
     "Mr Wang", "食品生产许可证", 700),
    ("eggs", "崇明蛋品 Chongming Eggs", "SC10431010000404", "Chongming, Shanghai",
     "Ms Qian", "食品生产许可证", 700),
)  # fmt: skip
PRODUCTS = (
    ("生菜 Lettuce", "ingredient"),
    ("鸡腿肉 Chicken thigh", "ingredient"),
    ("大米 Rice", "ingredient"),
    ("鸡蛋 Eggs", "ingredient"),
    ("芝麻 Sesame seeds", "ingredient"),
    ("芝麻酱 Sesame sauce", "dish"),
    ("鸡肉沙拉 Chicken salad", "dish"),
    ("宫保鸡丁饭 Kung pao chicken rice", "dish"),
    ("番茄炒蛋饭 Tomato egg rice", "dish"),
    ("凉拌生菜 Lettuce salad", "dish"),
)
# code, merchant index, supplier, product, quantity, unit, hours before day, shelf days, storage,
# receiving location
LOTS = (
    ("LET-0301-A", 0, "greens", "生菜 Lettuce", 30, "kg", 3, 5, "chilled", "North cold room"),
    (
        "CHK-0301-07",
        0,
        "poultry",
        "鸡腿肉 Chicken thigh",
        25,
        "kg",
        3,
        4,
        "chilled",
        "North cold room",
    ),
    ("RICE-2502-11", 0, "grain", "大米 Rice", 100, "kg", 3, 300, "ambient", "North dry store"),
    ("SES-0225-02", 0, "grain", "芝麻 Sesame seeds", 5, "kg", 3, 180, "ambient", "North dry store"),
    ("EGG-0301-3", 1, "eggs", "鸡蛋 Eggs", 360, "each", 2, 20, "chilled", "South cold room"),
    ("RICE-2502-12", 1, "grain", "大米 Rice", 80, "kg", 2, 300, "ambient", "South dry store"),
    ("CHK-0301-09", 2, "poultry", "鸡腿肉 Chicken thigh", 10, "kg", 2, 4, "chilled", "East fridge"),
)
# code, merchant index, product, quantity, unit, hours after day, inputs, location
BATCHES = (
    ("N-SAUCE-0301", 0, "芝麻酱 Sesame sauce", 4, "kg", 0,
     (("lot", "SES-0225-02", 1.5, "kg"),), "North kitchen"),
    ("N-SALAD-0301", 0, "鸡肉沙拉 Chicken salad", 60, "portion", 2,
     (("lot", "LET-0301-A", 9, "kg"), ("lot", "CHK-0301-07", 6, "kg"),
      ("batch", "N-SAUCE-0301", 1.5, "kg")), "North kitchen"),
    ("N-KP-0301", 0, "宫保鸡丁饭 Kung pao chicken rice", 80, "portion", 3,
     (("lot", "CHK-0301-07", 10, "kg"), ("lot", "RICE-2502-11", 12, "kg"),
      ("batch", "N-SAUCE-0301", 1, "kg")), "North kitchen"),
    ("S-LET-0301", 1, "凉拌生菜 Lettuce salad", 40, "portion", 2,
     (("lot", "LET-0301-A", 6, "kg"),), "South kitchen"),
    ("S-TE-0301", 1, "番茄炒蛋饭 Tomato egg rice", 70, "portion", 3,
     (("lot", "EGG-0301-3", 140, "each"), ("lot", "RICE-2502-12", 10, "kg")), "South kitchen"),
    ("E-SALAD-0301", 2, "鸡肉沙拉 Chicken salad", 30, "portion", 2,
     (("lot", "LET-0301-A", 4, "kg"), ("lot", "CHK-0301-09", 3, "kg")), "East stall"),
)  # fmt: skip
