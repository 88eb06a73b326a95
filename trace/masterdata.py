"""Master data use cases: suppliers and their certificates, merchants, products.

Each write adds the row and its ledger entry in one transaction. Contacts are personal data:
the ledger holds their salted digest only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

import ledger
from trace.access import Viewer
from trace.errors import DuplicateCode, InvalidRecord, NotFound
from trace.models import Merchant, Product, Supplier, SupplierCertificate
from trace.projections import (
    CERTIFICATE_ADDED,
    MERCHANT_REGISTERED,
    PRODUCT_REGISTERED,
    SUPPLIER_REGISTERED,
)

PRODUCT_CATEGORIES = ("ingredient", "dish")


@dataclass(frozen=True, slots=True)
class CertificateData:
    """A certificate to record with a supplier."""

    kind: str
    number: str
    expires_on: date
    issued_on: date | None = None


def clean(value: str | None, field: str, *, max_length: int, required: bool = False) -> str | None:
    """Trimmed NFC text (None when blank); InvalidRecord if required and blank, or too long."""
    text = unicodedata.normalize("NFC", value).strip() if value else ""
    if not text:
        if required:
            raise InvalidRecord(f"{field} is required", field=field)
        return None
    if len(text) > max_length:
        raise InvalidRecord(f"{field} is longer than {max_length} characters", field=field)
    return text


def append(
    session: Session,
    kind: str,
    actor: str,
    subject: dict[str, Any],
    payload: dict[str, Any],
    personal: frozenset[str] = frozenset(),
) -> int:
    """Append one trace entry in the session's transaction; returns its index."""
    event = ledger.Event(
        type=kind, actor=actor, subject=subject, payload=payload, personal=personal
    )
    return ledger.append(session, event).index


def _taken(session: Session, column: Any, value: str | None) -> bool:
    if value is None:
        return False
    return session.exec(select(func.count()).where(column == value)).one() > 0


def register_supplier(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    licence_number: str,
    identifier: str | None = None,
    address: str = "",
    contact: str = "",
    certificates: Sequence[CertificateData] = (),
) -> Supplier:
    """Record a supplier (and its certificates); licence numbers and identifiers are unique."""
    supplier = Supplier(
        name=clean(name, "name", max_length=200, required=True),
        licence_number=clean(licence_number, "licence_number", max_length=80, required=True),
        identifier=clean(identifier, "identifier", max_length=200),
        address=clean(address, "address", max_length=300) or "",
        contact=clean(contact, "contact", max_length=200) or "",
    )
    if _taken(session, Supplier.licence_number, supplier.licence_number):
        raise DuplicateCode(
            f"a supplier with licence {supplier.licence_number} exists", field="licence_number"
        )
    if _taken(session, Supplier.identifier, supplier.identifier):
        raise DuplicateCode(f"identifier {supplier.identifier} is taken", field="identifier")
    session.add(supplier)
    session.flush()
    assert supplier.id is not None
    supplier.ledger_index = append(
        session,
        SUPPLIER_REGISTERED,
        viewer.actor,
        {"supplier": supplier.id},
        {
            "name": supplier.name,
            "licence_number": supplier.licence_number,
            "identifier": supplier.identifier,
            "address": supplier.address,
            "contact": supplier.contact,
        },
        frozenset({"contact"}),
    )
    for certificate in certificates:
        _add_certificate(session, viewer, supplier.id, certificate)
    session.commit()
    return supplier


def add_certificate(
    *, session: Session, viewer: Viewer, supplier_id: int, certificate: CertificateData
) -> SupplierCertificate:
    """Record a licence or certificate of a supplier, with its expiry date."""
    if session.get(Supplier, supplier_id) is None:
        raise NotFound(f"no supplier {supplier_id}")
    row = _add_certificate(session, viewer, supplier_id, certificate)
    session.commit()
    return row


def _add_certificate(
    session: Session, viewer: Viewer, supplier_id: int, data: CertificateData
) -> SupplierCertificate:
    if data.issued_on is not None and data.issued_on > data.expires_on:
        raise InvalidRecord("a certificate cannot expire before it was issued", field="expires_on")
    row = SupplierCertificate(
        supplier_id=supplier_id,
        kind=clean(data.kind, "kind", max_length=80, required=True),
        number=clean(data.number, "number", max_length=80, required=True),
        issued_on=data.issued_on,
        expires_on=data.expires_on,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    row.ledger_index = append(
        session,
        CERTIFICATE_ADDED,
        viewer.actor,
        {"certificate": row.id, "supplier": supplier_id},
        {
            "supplier_id": supplier_id,
            "kind": row.kind,
            "number": row.number,
            "issued_on": row.issued_on,
            "expires_on": row.expires_on,
        },
    )
    return row


def register_merchant(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    licence_number: str,
    licence_expires_on: date,
    location: str = "",
    contact: str = "",
    identifier: str | None = None,
) -> Merchant:
    """Record a merchant with its food business licence (食品经营许可证) number and expiry."""
    merchant = Merchant(
        name=clean(name, "name", max_length=200, required=True),
        licence_number=clean(licence_number, "licence_number", max_length=80, required=True),
        licence_expires_on=licence_expires_on,
        location=clean(location, "location", max_length=200) or "",
        contact=clean(contact, "contact", max_length=200) or "",
        identifier=clean(identifier, "identifier", max_length=200),
    )
    if _taken(session, Merchant.licence_number, merchant.licence_number):
        raise DuplicateCode(
            f"a merchant with licence {merchant.licence_number} exists", field="licence_number"
        )
    if _taken(session, Merchant.identifier, merchant.identifier):
        raise DuplicateCode(f"identifier {merchant.identifier} is taken", field="identifier")
    session.add(merchant)
    session.flush()
    assert merchant.id is not None
    merchant.ledger_index = append(
        session,
        MERCHANT_REGISTERED,
        viewer.actor,
        {"merchant": merchant.id},
        {
            "name": merchant.name,
            "licence_number": merchant.licence_number,
            "licence_expires_on": merchant.licence_expires_on,
            "location": merchant.location,
            "contact": merchant.contact,
            "identifier": merchant.identifier,
        },
        frozenset({"contact"}),
    )
    session.commit()
    return merchant


def register_product(
    *,
    session: Session,
    viewer: Viewer,
    name: str,
    code: str | None = None,
    category: str = "ingredient",
) -> Product:
    """Record a product (ingredient or dish); names and codes are unique."""
    product = add_product(session, viewer.actor, name=name, code=code, category=category)
    session.commit()
    return product


def add_product(
    session: Session, actor: str, *, name: str, code: str | None = None, category: str
) -> Product:
    """Add a product in the caller's transaction (no commit)."""
    if category not in PRODUCT_CATEGORIES:
        raise InvalidRecord(
            f"category must be one of {', '.join(PRODUCT_CATEGORIES)}", field="category"
        )
    product = Product(
        name=clean(name, "name", max_length=200, required=True),
        code=clean(code, "code", max_length=120),
        category=category,
    )
    if _taken(session, Product.name, product.name):
        raise DuplicateCode(f"a product named {product.name} exists", field="name")
    if _taken(session, Product.code, product.code):
        raise DuplicateCode(f"a product with code {product.code} exists", field="code")
    session.add(product)
    session.flush()
    assert product.id is not None
    product.ledger_index = append(
        session,
        PRODUCT_REGISTERED,
        actor,
        {"product": product.id},
        {"name": product.name, "code": product.code, "category": product.category},
    )
    return product


def products_by_name(
    session: Session, names: Sequence[str], *, category: str, actor: str
) -> dict[str, int]:
    """Product ids for names, adding the ones not yet known (in the caller's transaction)."""
    distinct = set(names)
    cleaned = {n: clean(n, "product", max_length=200) for n in distinct if n}
    wanted = {c for c in cleaned.values() if c}
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = sorted(wanted)[start : start + 500]
        rows = session.exec(select(Product.name, Product.id).where(Product.name.in_(chunk)))  # type: ignore[attr-defined]
        found.update({name: pid for name, pid in rows})
    for name in sorted(wanted - found.keys()):
        product = add_product(session, actor, name=name, category=category)
        assert product.id is not None
        found[name] = product.id
    return {name: found[text] for name, text in cleaned.items() if text}


def resolve_product(
    session: Session, actor: str, *, product_id: int | None, name: str | None, category: str
) -> int:
    """The product an API call names: by id, or by name (a new name becomes a product)."""
    if product_id is not None:
        if session.get(Product, product_id) is None:
            raise NotFound(f"no product {product_id}")
        return product_id
    if not name or not name.strip():
        raise InvalidRecord("give product_id or product", field="product")
    return products_by_name(session, [name], category=category, actor=actor)[name]


def get_merchant(*, session: Session, merchant_id: int) -> Merchant:
    """The merchant with this id; NotFound if there is none."""
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound(f"no merchant {merchant_id}")
    return merchant


def list_suppliers(*, session: Session, limit: int = 100, offset: int = 0) -> list[Supplier]:
    """Suppliers by name."""
    stmt = select(Supplier).order_by(Supplier.name, Supplier.id).offset(offset).limit(limit)
    return list(session.exec(stmt).all())


def certificates_of(
    *, session: Session, supplier_ids: Sequence[int]
) -> dict[int, list[SupplierCertificate]]:
    """Each supplier's certificates, soonest expiry first."""
    out: dict[int, list[SupplierCertificate]] = {sid: [] for sid in supplier_ids}
    if not supplier_ids:
        return out
    rows = session.exec(
        select(SupplierCertificate)
        .where(SupplierCertificate.supplier_id.in_(list(supplier_ids)))  # type: ignore[attr-defined]
        .order_by(SupplierCertificate.expires_on)
    )
    for row in rows:
        out.setdefault(row.supplier_id, []).append(row)
    return out


def list_merchants(
    *, session: Session, viewer: Viewer, limit: int = 100, offset: int = 0
) -> list[Merchant]:
    """Merchants the viewer may see (a merchant user: its own), by name."""
    stmt = select(Merchant).order_by(Merchant.name, Merchant.id)
    own = viewer.visible_merchant()
    if own is not None:
        stmt = stmt.where(Merchant.id == own)
    return list(session.exec(stmt.offset(offset).limit(limit)).all())


def list_products(
    *, session: Session, category: str | None = None, limit: int = 100, offset: int = 0
) -> list[Product]:
    """Products by name, optionally of one category."""
    stmt = select(Product).order_by(Product.name, Product.id)
    if category is not None:
        stmt = stmt.where(Product.category == category)
    return list(session.exec(stmt.offset(offset).limit(limit)).all())
