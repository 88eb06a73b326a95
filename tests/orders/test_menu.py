"""Menus: dishes, photos, and the batches that serve them."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlmodel import select

import ledger
from orders import errors, menu
from orders.models import MenuBatch, MenuItem
from trace.commands import BatchProduction, InputUse
from trace.models import DishBatch

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def data(**changes) -> menu.MenuItemData:
    base = dict(
        name=" Tofu ",
        price_fen=1100,
        product_id=0,
        food_class="hot",
        allergens=("soy", " peanut", "soy", ""),
    )
    base.update(changes)
    return menu.MenuItemData(**base)


def test_a_dish_is_saved_cleaned_and_ledgered(session, campus):
    chef = campus.actor("merchant")
    item = menu.save_menu_item(session=session, actor=chef, data=data(product_id=campus.dish))
    assert (item.name, item.allergens, item.merchant_id) == (
        "Tofu",
        ["peanut", "soy"],
        campus.merchant,
    )
    entry = ledger.entry_at(session, item.ledger_index).envelope()
    assert entry["type"] == "orders.menu_item_saved"
    assert entry["payload"]["price_fen"] == 1100 and entry["actor"] == chef.ledger_actor


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": 10**9}, "price_fen"),
        ({"food_class": "warm"}, "food_class"),
        ({"product_id": 10**6}, "product_id"),
        ({"allergens": ("x" * 41,)}, "allergens"),
    ],
)
def test_bad_dishes_are_refused_naming_the_field(session, campus, changes, field):
    changes.setdefault("product_id", campus.dish)
    with pytest.raises(errors.MenuError) as caught:
        menu.save_menu_item(session=session, actor=campus.actor("merchant"), data=data(**changes))
    assert caught.value.field == field


def test_a_merchant_changes_only_its_own_menu(session, campus):
    with pytest.raises(errors.Forbidden):
        menu.save_menu_item(
            session=session,
            actor=campus.actor("merchant2"),
            data=data(product_id=campus.dish),
            item_id=campus.rice,
        )
    with pytest.raises(errors.Forbidden):
        menu.save_menu_item(
            session=session, actor=campus.actor("student"), data=data(product_id=campus.dish)
        )


def test_a_photo_is_checked_by_its_bytes_and_its_digest_ledgered(session, campus):
    chef = campus.actor("merchant")
    item = menu.set_photo(session=session, actor=chef, item_id=campus.rice, content=PNG)
    assert item.photo_digest == hashlib.sha256(PNG).hexdigest()
    assert menu.photo_of(session=session, item_id=campus.rice).mimetype == "image/png"
    with pytest.raises(errors.MenuError):
        menu.set_photo(session=session, actor=chef, item_id=campus.rice, content=b"<svg/>")


def test_remaining_counts_open_batches_only(session, campus):
    assert menu.remaining(session=session, item_ids=[campus.rice]) == {campus.rice: 15}
    first = session.exec(select(MenuBatch).where(MenuBatch.batch_id == campus.batch_a)).one()
    menu.close_batch(session=session, actor=campus.actor("merchant"), menu_batch_id=first.id)
    assert menu.remaining(session=session, item_ids=[campus.rice]) == {campus.rice: 5}


def test_opening_a_batch_checks_owner_product_unit_and_portions(session, campus):
    chef = campus.actor("merchant")
    noodle_batch = session.exec(
        select(DishBatch.id).where(DishBatch.batch_code == "NOODLE-A")
    ).one()
    with pytest.raises(errors.MenuError):  # another merchant's batch
        menu.open_batch(
            session=session, actor=chef, menu_item_id=campus.rice, batch_id=noodle_batch
        )
    with pytest.raises(errors.MenuError):  # already open for this dish
        menu.open_batch(
            session=session, actor=chef, menu_item_id=campus.rice, batch_id=campus.batch_a
        )
    with pytest.raises(errors.MenuError):  # a salad batch for the rice dish
        salad = session.exec(select(DishBatch.id).where(DishBatch.batch_code == "SALAD-A")).one()
        menu.open_batch(session=session, actor=chef, menu_item_id=campus.rice, batch_id=salad)


def test_recording_production_opens_the_new_batch_after_the_others(session, campus):
    chef = campus.actor("merchant")
    production = BatchProduction(
        batch_code="RICE-C",
        product_id=campus.dish,
        quantity=12,
        unit="portion",
        completed_at=campus.now - timedelta(minutes=5),
        inputs=(InputUse(quantity=1.0, unit="kg", kind="lot", id=campus.lot),),
    )
    opened = menu.produce_and_open(
        session=session, actor=chef, menu_item_id=campus.rice, production=production
    )
    batch = session.get(DishBatch, opened.batch_id)
    assert (batch.batch_code, batch.quantity, opened.portions) == ("RICE-C", 12.0, 12)
    assert menu.remaining(session=session, item_ids=[campus.rice]) == {campus.rice: 27}
    order = [mb.batch_id for mb, _b in menu.batches_of(session=session, item_ids=[campus.rice])]
    assert order == [campus.batch_a, campus.batch_b, opened.batch_id]


def _rice_batches(session, campus, codes):
    from trace import service as trace_service
    from trace.access import Viewer

    chef = campus.actor("merchant")
    viewer = Viewer(actor=chef.ledger_actor, role="merchant", merchant_id=chef.merchant_id)
    made = [
        BatchProduction(
            batch_code=code, product_id=campus.dish, quantity=10, unit="portion",
            completed_at=campus.now - timedelta(minutes=5),
            inputs=(InputUse(quantity=1.0, unit="kg", kind="lot", id=campus.lot),),
        )
        for code in codes
    ]  # fmt: skip
    return trace_service.produce_batches(session=session, viewer=viewer, productions=made)


def test_several_batches_open_at_once_in_order_with_an_entry_each(session, campus):
    chef = campus.actor("merchant")
    first, second = _rice_batches(session, campus, ["RICE-M1", "RICE-M2"])
    size = ledger.tree_size(session)
    rows = menu.open_batches(
        session=session, actor=chef,
        openings=[(campus.rice, first, None), (campus.rice, second, 4)],
    )  # fmt: skip
    assert [(r.batch_id, r.portions) for r in rows] == [(first, 10), (second, 4)]
    assert all(r.ledger_index is not None for r in rows)
    assert ledger.tree_size(session) == size + 2
    assert menu.remaining(session=session, item_ids=[campus.rice]) == {campus.rice: 15 + 14}


def test_one_bad_opening_among_several_opens_none(session, campus):
    chef = campus.actor("merchant")
    [fresh] = _rice_batches(session, campus, ["RICE-M3"])
    with pytest.raises(errors.MenuError, match="0 portions"):  # batch_a is already all served
        menu.open_batches(
            session=session, actor=chef,
            openings=[(campus.rice, fresh, None), (campus.rice, campus.batch_a, None)],
        )  # fmt: skip
    session.rollback()
    opened = session.exec(select(MenuBatch).where(MenuBatch.batch_id == fresh)).all()
    assert opened == []
    with pytest.raises(errors.MenuError, match="portions"):  # twice, more than the batch holds
        menu.open_batches(
            session=session, actor=chef,
            openings=[(campus.rice, fresh, 6), (campus.rice, fresh, 6)],
        )  # fmt: skip


def test_merchants_list_shows_who_can_sell(session, campus):
    cards = {c.merchant.id: c for c in menu.merchants(session=session, today=campus.now.date())}
    assert cards[campus.merchant].items == 2 and cards[campus.merchant].open
    later = (campus.now + timedelta(days=400)).date()  # licences expired by then
    assert not any(c.open for c in menu.merchants(session=session, today=later))
    item = session.get(MenuItem, campus.noodles)
    menu.set_available(
        session=session, actor=campus.actor("merchant2"), item_id=item.id, available=False
    )
    ids = {c.merchant.id for c in menu.merchants(session=session, today=campus.now.date())}
    assert campus.other_merchant not in ids
