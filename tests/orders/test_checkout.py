"""Checking and pricing order requests (pure)."""

from __future__ import annotations

import hashlib
import json

import pytest

from orders import checkout, errors
from orders.checkout import Address, LineRequest, MenuEntry, OrderRequest

MENU = {
    1: MenuEntry(1, merchant_id=7, name="Rice", price_fen=1500, available=True, food_class="hot"),
    2: MenuEntry(2, merchant_id=7, name="Salad", price_fen=900, available=True, food_class="cold"),
    3: MenuEntry(3, merchant_id=7, name="Soup", price_fen=500, available=False, food_class="hot"),
    4: MenuEntry(
        4, merchant_id=8, name="Noodles", price_fen=1200, available=True, food_class="hot"
    ),
}


def request(**changes) -> OrderRequest:
    base = {
        "user_id": 1,
        "merchant_id": 7,
        "items": (LineRequest(1, 2), LineRequest(2, 1)),
        "address": Address(" Dorm 3 ", " 301 "),
        "idempotency_key": "k-1",
    }
    base.update(changes)
    return OrderRequest(**base)


def check(req: OrderRequest) -> OrderRequest:
    return checkout.normalised(req, max_quantity=20, max_lines=5)


def test_normalised_trims_the_address_and_keeps_the_rest():
    clean = check(request(note="  no chilli "))
    assert clean.address == Address("Dorm 3", "301", "")
    assert clean.note == "no chilli"
    assert clean.items == request().items


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"items": ()}, "items"),
        ({"items": tuple(LineRequest(i, 1) for i in range(6))}, "items"),
        ({"items": (LineRequest(1, 0),)}, "items[0].quantity"),
        ({"items": (LineRequest(2, 1), LineRequest(1, -3))}, "items[1].quantity"),
        ({"items": (LineRequest(1, 21),)}, "items[0].quantity"),
        ({"items": (LineRequest(1, 1), LineRequest(1, 2))}, "items[1].menu_item_id"),
        ({"items": (LineRequest(1, 1, -5),)}, "items[0].unit_price_fen"),
        ({"address": Address("", "301")}, "address.building"),
        ({"address": Address("Dorm", "  ")}, "address.room"),
        ({"address": Address("Dorm", "1", "call me")}, "address.phone"),
        ({"idempotency_key": ""}, "Idempotency-Key"),
        ({"idempotency_key": "has space"}, "Idempotency-Key"),
        ({"idempotency_key": "x" * 201}, "Idempotency-Key"),
        ({"note": "n" * 201}, "note"),
        ({"expected_total_fen": -1}, "expected_total_fen"),
    ],
)
def test_bad_requests_name_the_field(changes, field):
    with pytest.raises(errors.InvalidOrder) as caught:
        check(request(**changes))
    assert caught.value.field == field


def test_priced_lines_use_menu_prices_and_sum_to_the_total():
    lines = checkout.priced_lines(check(request()), MENU)
    assert [(line.name, line.unit_price_fen, line.quantity) for line in lines] == [
        ("Rice", 1500, 2),
        ("Salad", 900, 1),
    ]
    assert checkout.order_total(lines) == 2 * 1500 + 900


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"items": (LineRequest(99, 1),)}, errors.UnknownItem, "items[0].menu_item_id"),
        (
            {"items": (LineRequest(1, 1), LineRequest(4, 1))},
            errors.UnknownItem,
            "items[1].menu_item_id",
        ),
        ({"items": (LineRequest(3, 1),)}, errors.ItemUnavailable, "items[0]"),
        ({"items": (LineRequest(1, 1, 1400),)}, errors.PriceMismatch, "items[0].unit_price_fen"),
        ({"expected_total_fen": 3899}, errors.PriceMismatch, "expected_total_fen"),
    ],
)
def test_menu_problems_are_named(changes, error, field):
    with pytest.raises(error) as caught:
        checkout.priced_lines(check(request(**changes)), MENU)
    assert caught.value.field == field


def test_the_expected_total_and_prices_pass_when_they_match():
    req = check(request(items=(LineRequest(1, 2, 1500),), expected_total_fen=3000))
    assert checkout.order_total(checkout.priced_lines(req, MENU)) == 3000


def test_the_digest_is_the_sha256_of_the_body_as_understood():
    req = check(request())
    body = {
        "merchant_id": 7,
        "items": [[1, 2, None], [2, 1, None]],
        "address": ["Dorm 3", "301", ""],
        "expected_total_fen": None,
        "note": "",
    }
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    assert checkout.request_digest(req) == hashlib.sha256(data.encode()).hexdigest()


def test_the_digest_changes_with_the_body_but_not_with_the_key():
    req = check(request())
    assert checkout.request_digest(req) == checkout.request_digest(
        check(request(idempotency_key="other"))
    )
    assert checkout.request_digest(req) != checkout.request_digest(
        check(request(items=(LineRequest(1, 3),)))
    )


@pytest.mark.parametrize(
    ("classes", "expected"),
    [
        (["hot"], "hot"),
        (["hot", "cold"], "cold"),
        (["ambient", "frozen"], "frozen"),
        ([], "ambient"),
    ],
)
def test_a_mixed_delivery_is_held_at_the_strictest_class(classes, expected):
    assert checkout.delivery_food_class(classes) == expected
