from decimal import Decimal

import pytest

from shopctl.domain.errors import InvalidInput
from shopctl.domain.money import parse_money


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9.9", "9.90"), ("10", "10.00"), ("0", "0.00"), ("0.00", "0.00"), ("1.500", "1.50")],
)
def test_parses_to_two_places(text: str, expected: str) -> None:
    assert str(parse_money(text)) == expected


@pytest.mark.parametrize("text", ["1.005", "0.001", "9.999"])
def test_refuses_more_than_two_places_instead_of_rounding(text: str) -> None:
    with pytest.raises(InvalidInput, match="more than 2 decimal places"):
        parse_money(text)


@pytest.mark.parametrize("text", ["-0.01", "-5"])
def test_refuses_negative(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"0\.00 or more"):
        parse_money(text)


@pytest.mark.parametrize("text", ["abc", "", "NaN", "Infinity", "1,5"])
def test_refuses_non_numbers(text: str) -> None:
    with pytest.raises(InvalidInput, match="not a number"):
        parse_money(text)


def test_refuses_floats() -> None:
    with pytest.raises(InvalidInput):
        parse_money(0.1)  # type: ignore[arg-type]  # a float, refused at run time


def test_refuses_amounts_that_do_not_fit_numeric_12_2() -> None:
    with pytest.raises(InvalidInput, match="at most"):
        parse_money("10000000000.00")
    assert parse_money("9999999999.99") == Decimal("9999999999.99")


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" 5 ", "5.00"), ("5.", "5.00"), ("007.5", "7.50"), ("00009999999999.99", "9999999999.99")],
)
def test_plain_text_fast_path_gives_the_same_amounts(text: str, expected: str) -> None:
    assert str(parse_money(text)) == expected
    assert str(parse_money(Decimal(text.strip()))) == expected  # the full checks
