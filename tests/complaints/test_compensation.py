"""Art. 148 damages at their boundaries, money parsing, and remedy decisions (fen, never float)."""

from decimal import Decimal

import pytest

from complaints.compensation import (
    CompensationError,
    check_decision,
    default_statutory_rules,
    fen_to_yuan,
    statutory_damages,
    yuan_to_fen,
)

YUAN = 100  # fen


@pytest.mark.parametrize(
    ("price", "loss", "damages", "basis"),
    [
        (50 * YUAN, 0, 1000 * YUAN, "minimum"),  # 10 × ¥50 = ¥500 < ¥1,000
        (200 * YUAN, 0, 2000 * YUAN, "price"),  # 10 × ¥200
        (20 * YUAN, 800 * YUAN, 2400 * YUAN, "loss"),  # 3 × ¥800 beats 10 × ¥20
        (100 * YUAN, 0, 1000 * YUAN, "price"),  # exactly the minimum: the price ground
        (9999, 0, 1000 * YUAN, "minimum"),  # ¥99.99 × 10 = ¥999.90
        (300 * YUAN, 1000 * YUAN, 3000 * YUAN, "price"),  # tie: 10 × 300 = 3 × 1000
        (0, 0, 1000 * YUAN, "minimum"),
    ],
)
def test_damages_are_the_larger_of_ten_times_price_or_three_times_loss_at_least_1000(
    price, loss, damages, basis
):
    result = statutory_damages(price_paid_fen=price, loss_fen=loss)
    assert result.damages_fen == max(10 * price, 3 * loss, 1000 * YUAN) == damages
    assert result.basis == basis
    assert result.total_claim_fen == damages + loss  # the loss itself comes on top
    assert isinstance(result.damages_fen, int)


def test_the_rules_come_from_the_cited_file():
    rules = default_statutory_rules()
    assert (rules.price_multiplier, rules.loss_multiplier, rules.minimum_fen) == (10, 3, 100_000)
    assert "148" in rules.source


@pytest.mark.parametrize("bad", [12.5, -1, True, "100"])
def test_amounts_must_be_whole_non_negative_fen(bad):
    with pytest.raises(CompensationError) as caught:
        statutory_damages(price_paid_fen=bad)
    assert caught.value.field == "price_paid_fen"


@pytest.mark.parametrize(
    ("text", "fen"),
    [("50", 5000), ("12.5", 1250), ("¥1,000.00", 100000), (" 0.01 ", 1), (Decimal("2.30"), 230)],
)
def test_yuan_text_becomes_whole_fen_without_floats(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.001", "-5", "abc", "NaN", "Infinity", ""])
def test_bad_yuan_text_is_refused(text):
    with pytest.raises(CompensationError):
        yuan_to_fen(text, "price")


def test_fen_print_as_yuan_with_two_decimals():
    assert fen_to_yuan(100000) == "1,000.00"
    assert fen_to_yuan(5) == "0.05"
    assert fen_to_yuan(-250) == "-2.50"


def test_a_refund_may_not_exceed_the_price_paid():
    assert (
        check_decision(remedy="refund", amount_fen=2500, price_paid_fen=2500, loss_fen=None) == 2500
    )
    with pytest.raises(CompensationError) as caught:
        check_decision(remedy="refund", amount_fen=2501, price_paid_fen=2500, loss_fen=None)
    assert caught.value.field == "amount_fen"


def test_statutory_decisions_pay_exactly_the_computed_damages():
    amount = check_decision(remedy="statutory", amount_fen=None, price_paid_fen=5000, loss_fen=0)
    assert amount == 100_000
    with pytest.raises(CompensationError):
        check_decision(remedy="statutory", amount_fen=50_000, price_paid_fen=5000, loss_fen=0)
    with pytest.raises(CompensationError) as caught:
        check_decision(remedy="statutory", amount_fen=None, price_paid_fen=None, loss_fen=0)
    assert caught.value.field == "price_paid_fen"


@pytest.mark.parametrize(
    ("remedy", "amount", "field"),
    [("voucher", None, "amount_fen"), ("voucher", 0, "amount_fen"), ("gift", 10, "remedy")],
)
def test_other_bad_decisions_name_their_field(remedy, amount, field):
    with pytest.raises(CompensationError) as caught:
        check_decision(remedy=remedy, amount_fen=amount, price_paid_fen=None, loss_fen=None)
    assert caught.value.field == field
