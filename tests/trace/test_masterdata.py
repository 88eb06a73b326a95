"""Suppliers, certificates, merchants and products: unique codes, dates, personal data digested."""

from __future__ import annotations

from datetime import date

import pytest

import ledger
from tests.trace.campus import ADMIN, merchant_viewer
from trace import masterdata
from trace.errors import DuplicateCode, InvalidRecord, NotFound
from trace.masterdata import CertificateData
from trace.models import PROJECTIONS


def test_a_suppliers_contact_stays_out_of_the_ledger_entry(session, campus):
    supplier = masterdata.register_supplier(
        session=session,
        viewer=ADMIN,
        name="Farm",
        licence_number="SC9",
        contact="Mr Li 13911112222",
    )
    entry = ledger.entry_at(session, supplier.ledger_index)
    assert b"13911112222" not in entry.data
    assert "contact" in entry.envelope()["payload_digest"]
    assert ledger.verify(session, projections=PROJECTIONS).ok


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"licence_number": "SC101"}, DuplicateCode),  # the green supplier's
        ({"identifier": "urn:epc:id:sgln:4012345.00001.0"}, DuplicateCode),
        ({"name": "  "}, InvalidRecord),
        ({"licence_number": "x" * 81}, InvalidRecord),
    ],
)
def test_a_supplier_needs_a_name_and_unique_codes(session, campus, kwargs, error):
    values = {"name": "Farm", "licence_number": "SC-NEW"} | kwargs
    with pytest.raises(error):
        masterdata.register_supplier(session=session, viewer=ADMIN, **values)


def test_certificates_belong_to_a_supplier_and_expire_after_issue(session, campus):
    made = masterdata.add_certificate(
        session=session,
        viewer=merchant_viewer(campus.north),
        supplier_id=campus.greens,
        certificate=CertificateData("HACCP", "H-1", date(2026, 1, 1), date(2025, 1, 1)),
    )
    assert made.supplier_id == campus.greens
    with pytest.raises(InvalidRecord):
        masterdata.add_certificate(
            session=session,
            viewer=ADMIN,
            supplier_id=campus.greens,
            certificate=CertificateData("X", "1", date(2024, 1, 1), date(2025, 1, 1)),
        )
    with pytest.raises(NotFound):
        masterdata.add_certificate(
            session=session,
            viewer=ADMIN,
            supplier_id=999,
            certificate=CertificateData("X", "1", date(2026, 1, 1)),
        )
    listed = masterdata.certificates_of(session=session, supplier_ids=[campus.greens])[
        campus.greens
    ]
    assert [c.number for c in listed] == ["H-1", "C-1"]  # soonest expiry first


def test_merchants_and_products_have_unique_licences_names_and_categories(session, campus):
    with pytest.raises(DuplicateCode):
        masterdata.register_merchant(
            session=session,
            viewer=ADMIN,
            name="X",
            licence_number="JY1",
            licence_expires_on=date(2030, 1, 1),
        )
    with pytest.raises(DuplicateCode):
        masterdata.register_product(session=session, viewer=ADMIN, name="Lettuce 生菜")
    with pytest.raises(InvalidRecord):
        masterdata.register_product(session=session, viewer=ADMIN, name="Soup", category="drink")
    ids = masterdata.products_by_name(
        session, ["Tofu", "Lettuce 生菜", "Tofu"], category="ingredient", actor="user:1"
    )
    assert ids["Lettuce 生菜"] == campus.lettuce and ids["Tofu"] not in (campus.lettuce,)
    assert [
        m.id
        for m in masterdata.list_merchants(session=session, viewer=merchant_viewer(campus.south))
    ] == [campus.south]
