"""GB 11643-1999 citizen ID numbers: the MOD 11-2 check character, the validator and masking."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.citizen_id import (
    PROVINCE_CODES,
    CitizenId,
    Gender,
    id_check_char,
    mask_id_number,
    mask_id_numbers_in,
    parse_id_number,
)
from catalog.city_time import city_today
from catalog.errors import InvalidIdentifier

KNOWN_VALID = ["34052419800101001X", "11010519491231002X"]
CHECK_ALPHABET = "0123456789X"


def _value(char: str) -> int:
    return 10 if char == "X" else int(char)


@st.composite
def valid_id_numbers(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(PROVINCE_CODES)))
    prefecture = draw(st.integers(1, 99))
    county = draw(st.integers(0, 99))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date.today()))
    sequence = draw(st.integers(0, 999))
    first17 = f"{province}{prefecture:02d}{county:02d}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_char(first17)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_17_digits_with_their_check_char_satisfy_mod_11_2(first17: str) -> None:
    # ISO 7064 MOD 11-2 in its equivalent form: weights 2^(18-i) mod 11 and the check
    # character (X = 10) weighted 1 give a sum congruent to 1 modulo 11.
    number = first17 + id_check_char(first17)
    weights = [pow(2, 18 - i, 11) for i in range(1, 19)]
    assert sum(_value(char) * weight for char, weight in zip(number, weights)) % 11 == 1


@given(valid_id_numbers())
def test_generated_numbers_validate_and_decode(number: str) -> None:
    parsed = parse_id_number(number)
    assert parsed.number == number
    assert parsed.region_code == number[:6]
    assert parsed.birth_date.strftime("%Y%m%d") == number[6:14]
    assert parsed.gender is (Gender.MALE if int(number[14:17]) % 2 else Gender.FEMALE)


@given(valid_id_numbers(), st.integers(0, 17), st.sampled_from(CHECK_ALPHABET))
def test_any_single_character_change_is_rejected(number: str, position: int, char: str) -> None:
    changed = number[:position] + char + number[position + 1 :]
    if changed != number:
        with pytest.raises(InvalidIdentifier):
            parse_id_number(changed)


@given(valid_id_numbers(), st.integers(0, 16))
def test_any_adjacent_transposition_of_different_characters_is_rejected(number: str, position: int) -> None:
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped != number:
        with pytest.raises(InvalidIdentifier):
            parse_id_number(swapped)


@pytest.mark.parametrize("number", KNOWN_VALID)
def test_published_examples_are_valid(number: str) -> None:
    assert parse_id_number(number).number == number


def test_published_examples_decode() -> None:
    assert parse_id_number("34052419800101001X") == CitizenId(
        number="34052419800101001X", region_code="340524", birth_date=date(1980, 1, 1), gender=Gender.MALE
    )
    assert parse_id_number("11010519491231002X").gender is Gender.FEMALE


def test_lowercase_x_and_surrounding_space_are_normalised() -> None:
    assert parse_id_number(" 34052419800101001x\n").number == "34052419800101001X"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("34052419800101001", "ID number must have 18 characters, got 17"),
        ("34052419800101001XX", "ID number must have 18 characters, got 19"),
        ("3405241980O101001X", "ID number position 11 must be a digit, got 'O'"),
        ("34052419800101001Y", "ID number position 18 must be a digit or X, got 'Y'"),
        ("99052419800101001X", "ID number region code 990524: 99 is not a GB/T 2260 province-level code"),
        ("34002419800101001X", "ID number region code 340024: prefecture digits must not be 00"),
        ("34052419800230001X", "ID number birth date 19800230 is not a calendar date"),
        ("34052418991231001X", "ID number birth date 1899-12-31 is before 1900-01-01"),
        ("340524198001010015", "ID number check character: expected X, got 5"),
        ("11010519491231002Y", "ID number position 18 must be a digit or X, got 'Y'"),
        ("110105194912310021", "ID number check character: expected X, got 1"),
    ],
)
def test_invalid_numbers_say_exactly_what_is_wrong(number: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_id_number(number)
    assert str(caught.value) == message


def test_birth_date_in_the_future_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_id_number("34052419800101001X", today=date(1979, 12, 31))
    assert str(caught.value) == "ID number birth date 1980-01-01 is in the future"


def test_check_char_needs_17_digits() -> None:
    with pytest.raises(InvalidIdentifier):
        id_check_char("3405241980010100")
    with pytest.raises(InvalidIdentifier):
        id_check_char("3405241980010100X")


def test_invalid_identifier_is_a_value_error() -> None:
    assert issubclass(InvalidIdentifier, ValueError)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("34052419800101001X", "340524********001X"),
        ("330702198001011234", "330702********1234"),
        ("123456789012345", "123456*****2345"),
        ("1234567890", "**********"),
        ("", ""),
    ],
)
def test_mask_keeps_only_the_first_six_and_last_four(text: str, masked: str) -> None:
    assert mask_id_number(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("33070219800204131022", "330702********131022"),
        ("330702-19800204-1310-22", "330702-********-1310-22"),
        ("330702 19800204 1310 22", "330702 ******** 1310 22"),
        ("残疾人证号：3307 0219 8002 0413 10（二级）", "残疾人证号：3307 02** **** **13 10（二级）"),
        ("证号 330702–1980–0204–1310", "证号 330702–****–****–1310"),
        ("330702-19800204-1311-22", "330702-19800204-1311-22"),
        ("3307021980020413-10", "330702********13-10"),
        ("电话 0579-82345678-1234", "电话 0579-82345678-1234"),
        ("编号12-330702-19800204-1310-22", "编号12-330702-********-1310-22"),
        ("330702198002041310，330702198002041310", "330702********1310，330702********1310"),
        ("３３０７０２１９８００２０４１３１０２２", "３３０７０２********１３１０２２"),
        ("330702.1980.0204.1310.22", "330702.****.****.1310.22"),
        ("330702/19800204/1310", "330702/********/1310"),
        ("330702－19800204－1310", "330702－********－1310"),
        ("330702  19800204  1310", "330702  ********  1310"),
        ("330702_19800204_1310", "330702_********_1310"),
        ("身份证 330702，19800204，1310", "身份证 330702，********，1310"),
        ("330702、19800204、1310", "330702、********、1310"),
        ("330702,19800204,1310", "330702,********,1310"),
        ("配偶 330702|19800204|1310", "配偶 330702|********|1310"),
        ("330702：19800204：1310", "330702：********：1310"),
        ("330702\t19800204\t1310", "330702\t********\t1310"),
        ("（330702）（19800204）（1310）", "（330702）（********）（1310）"),
        ("330702 —— 19800204 —— 1310", "330702 —— ******** —— 1310"),
        ("330702・19800204・1310", "330702・********・1310"),
        # behind other digits: a date or a sequence number before it, or a second number straight after one
        ("0330702198002041310", "0330702********1310"),
        ("GZF20261207330702198002041310", "GZF20261207330702********1310"),
        ("330702198002041310330702198002041310", "330702********1310330702********1310"),
    ],
)
def test_id_numbers_inside_a_value_are_masked_however_they_are_grouped(text: str, masked: str) -> None:
    """A department may write a 残疾人证号 with hyphens or spaces between its groups: the ID
    number inside it is masked all the same, its separators kept; a run whose digits are not an ID
    number (a wrong check digit, a telephone number) is printed as it is."""
    assert mask_id_numbers_in(text) == masked


def test_repr_does_not_reveal_the_number() -> None:
    assert "19800101" not in repr(parse_id_number("34052419800101001X"))


def test_a_child_born_today_in_the_city_is_not_born_in_the_future() -> None:
    """From 16:00 UTC the city's date is already the next day: a newborn's ID number (its birth
    certificate, a parent's consent) is valid on the day the child was born there."""
    born = city_today()
    first17 = f"330702{born:%Y%m%d}123"
    assert parse_id_number(first17 + id_check_char(first17)).birth_date == born
    assert city_today(datetime(2026, 12, 6, 17, 0, tzinfo=timezone.utc)) == date(2026, 12, 7)
    assert city_today(datetime(2026, 12, 6, 15, 59, tzinfo=timezone.utc)) == date(2026, 12, 6)
