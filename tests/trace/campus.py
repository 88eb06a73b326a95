"""The small campus trace tests start from, and builders of receipts and productions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from trace import masterdata
from trace.access import Viewer
from trace.commands import BatchProduction, InputUse, LotReceipt
from trace.masterdata import CertificateData

NOW = datetime(2025, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ADMIN = Viewer(actor="user:1", role="admin")
DESK = Viewer(actor="user:2", role="desk")
SHARED_EPCIS = Path(__file__).resolve().parents[2].parent / "shared" / "epcis"


def merchant_viewer(merchant_id: int) -> Viewer:
    """A merchant user bound to `merchant_id`."""
    return Viewer(actor=f"user:m{merchant_id}", role="merchant", merchant_id=merchant_id)


@dataclass
class Campus:
    """Ids of the master data every trace test starts from."""

    north: int  # merchant 1
    south: int  # merchant 2
    greens: int  # supplier with a valid certificate
    poultry: int  # supplier whose only certificate expired on 2025-01-31
    lettuce: int
    chicken: int
    sauce: int
    salad: int


def build_campus(session: Session) -> Campus:
    """Two merchants, two suppliers (one with an expired certificate), four products."""
    far = date(2030, 1, 1)
    north = masterdata.register_merchant(
        session=session,
        viewer=ADMIN,
        name="北区食堂 North Canteen",
        licence_number="JY1",
        licence_expires_on=far,
        location="North Canteen 1F",
    )
    south = masterdata.register_merchant(
        session=session,
        viewer=ADMIN,
        name="南区食堂 South Canteen",
        licence_number="JY2",
        licence_expires_on=far,
        location="South Canteen",
    )
    greens = masterdata.register_supplier(
        session=session,
        viewer=ADMIN,
        name="绿源蔬菜 Green Source",
        licence_number="SC101",
        identifier="urn:epc:id:sgln:4012345.00001.0",
        contact="Ms Zhao 13800000000",
        certificates=[CertificateData("食品经营许可证", "C-1", far)],
    )
    poultry = masterdata.register_supplier(
        session=session,
        viewer=ADMIN,
        name="嘉定禽业 Jiading Poultry",
        licence_number="SC202",
        certificates=[CertificateData("食品生产许可证", "C-2", date(2025, 1, 31))],
    )
    products = {
        name: masterdata.register_product(
            session=session, viewer=ADMIN, name=name, category=category
        ).id
        for name, category in (
            ("Lettuce 生菜", "ingredient"),
            ("Chicken thigh 鸡腿肉", "ingredient"),
            ("Sesame sauce 麻酱", "dish"),
            ("Chicken salad 鸡肉沙拉", "dish"),
        )
    }
    ids = list(products.values())
    return Campus(north.id, south.id, greens.id, poultry.id, *ids)  # type: ignore[arg-type]


def receipt(campus: Campus, code: str, **overrides: object) -> LotReceipt:
    """A complete lettuce receipt from the green supplier, received the day before NOW."""
    values: dict[str, object] = {
        "tlc": code,
        "product_id": campus.lettuce,
        "quantity": 20.0,
        "unit": "kg",
        "received_at": NOW - timedelta(days=1),
        "supplier_id": campus.greens,
        "tlc_source": "Green Source farm, Chongming",
        "location": "North cold room",
        "reference_document_type": "Invoice",
        "reference_document_number": f"INV-{code}",
        "expiry_date": date(2025, 3, 8),
        "storage": "chilled",
    }
    values.update(overrides)
    return LotReceipt(**values)  # type: ignore[arg-type]


def production(
    campus: Campus, code: str, inputs: list[InputUse], **overrides: object
) -> BatchProduction:
    """A salad batch completed an hour before NOW."""
    values: dict[str, object] = {
        "batch_code": code,
        "product_id": campus.salad,
        "quantity": 40.0,
        "unit": "portion",
        "completed_at": NOW - timedelta(hours=1),
        "inputs": tuple(inputs),
        "location": "North kitchen",
        "reference_document_type": "Production log",
        "reference_document_number": f"PL-{code}",
    }
    values.update(overrides)
    return BatchProduction(**values)  # type: ignore[arg-type]


def lot_input(lot_id: int, quantity: float = 2.0, unit: str = "kg") -> InputUse:
    return InputUse(quantity=quantity, unit=unit, kind="lot", id=lot_id)


def batch_input(batch_id: int, quantity: float = 1.0, unit: str = "kg") -> InputUse:
    return InputUse(quantity=quantity, unit=unit, kind="batch", id=batch_id)
