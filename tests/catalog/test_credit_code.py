"""GB 32100-2015 unified social credit codes with the embedded GB 11714-1997 check."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from catalog.credit_code import (
    PILOT_CODE_ALLOWLIST,
    REGION_PREFIXES,
    USCC_ALPHABET,
    complete_uscc,
    org_code_check_char,
    parse_uscc,
    uscc_check_char,
)
from catalog.errors import InvalidIdentifier

KNOWN_VALID = ["91110000101623741K", "911101066976941872"]
# Early pilot codes that fail the C18 check, with the value the check computes (domain.md §6.2).
PILOT_CODES = [("91350211M0000XUF46", "R"), ("91350100M0001TGQXM", "1")]


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    head = draw(st.text(alphabet=USCC_ALPHABET, min_size=2, max_size=2))
    region = draw(st.sampled_from(sorted(REGION_PREFIXES))) + draw(st.text(alphabet="0123456789", min_size=4,
                                                                           max_size=4))
    body = draw(st.text(alphabet=USCC_ALPHABET, min_size=8, max_size=8))
    code = complete_uscc(head + region + body)
    assume(not _a_citizen_id_number(code))  # refused as such (below)
    return code


def _a_citizen_id_number(code: str) -> bool:
    from catalog.citizen_id import parse_id_number

    try:
        parse_id_number(code)
    except InvalidIdentifier:
        return False
    return True


@given(st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17))
def test_any_17_characters_with_their_check_char_sum_to_zero_mod_31(first17: str) -> None:
    code = first17 + uscc_check_char(first17)
    weights = [pow(3, i - 1, 31) for i in range(1, 18)] + [1]
    assert sum(USCC_ALPHABET.index(char) * weight for char, weight in zip(code, weights)) % 31 == 0


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=8, max_size=8))
def test_organisation_code_check_sums_to_zero_mod_11(body: str) -> None:
    check = org_code_check_char(body)
    values = [int(char, 36) for char in body] + [10 if check == "X" else int(check)]
    assert sum(value * weight for value, weight in zip(values, [3, 7, 9, 10, 5, 8, 4, 2, 1])) % 11 == 0


@given(valid_codes())
def test_completed_codes_validate_and_split_into_their_parts(code: str) -> None:
    parsed = parse_uscc(code)
    assert (parsed.code, parsed.check_waived) == (code, False)
    assert parsed.registration_authority + parsed.organisation_type == code[:2]
    assert (parsed.region_code, parsed.organisation_code) == (code[2:8], code[8:17])


@given(valid_codes(), st.integers(0, 17), st.sampled_from(USCC_ALPHABET + "IOSVZ"))
def test_any_single_character_change_is_rejected(code: str, position: int, char: str) -> None:
    changed = code[:position] + char + code[position + 1 :]
    if changed != code:
        with pytest.raises(InvalidIdentifier):
            parse_uscc(changed)


@given(valid_codes(), st.integers(0, 16))
def test_any_adjacent_transposition_of_different_characters_is_rejected(code: str, position: int) -> None:
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    if swapped != code:
        with pytest.raises(InvalidIdentifier):
            parse_uscc(swapped)


@pytest.mark.parametrize("code", KNOWN_VALID)
def test_published_examples_are_valid(code: str) -> None:
    assert parse_uscc(code).code == code


def test_lowercase_and_surrounding_space_are_normalised() -> None:
    assert parse_uscc(" 91110000101623741k ").code == "91110000101623741K"


@pytest.mark.parametrize(("code", "computed"), PILOT_CODES)
def test_pilot_codes_are_rejected_by_default(code: str, computed: str) -> None:
    assert code not in PILOT_CODE_ALLOWLIST
    with pytest.raises(InvalidIdentifier) as caught:
        parse_uscc(code)
    assert str(caught.value) == f"credit code check character: expected {computed}, got {code[-1]}"


@pytest.mark.parametrize("code", [code for code, _ in PILOT_CODES])
def test_allow_listed_pilot_codes_are_accepted_with_the_check_waived(code: str) -> None:
    parsed = parse_uscc(code, allowlist={code})
    assert (parsed.code, parsed.check_waived) == (code, True)


def test_the_allow_list_does_not_waive_the_structure() -> None:
    with pytest.raises(InvalidIdentifier):
        parse_uscc("91350211M0000XUF4", allowlist={"91350211M0000XUF4"})


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91110000101623741", "credit code must have 18 characters, got 17"),
        ("91110000101623741KK", "credit code must have 18 characters, got 19"),
        ("9111000010162374IK", "credit code position 17 must be a digit or a letter other than I, O, S, V, Z, got 'I'"),
        ("91110000101623741O", "credit code position 18 must be a digit or a letter other than I, O, S, V, Z, got 'O'"),
        ("911A0000101623741K", "credit code positions 3-8 must be a region code of six digits, got 1A0000"),
        ("91110000101623741L", "credit code check character: expected K, got L"),
        ("911101066976941871", "credit code check character: expected 2, got 1"),
    ],
)
def test_invalid_codes_say_exactly_what_is_wrong(code: str, message: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        parse_uscc(code)
    assert str(caught.value) == message


def test_an_embedded_organisation_code_error_is_reported_as_such() -> None:
    # Position 17 wrong for GB 11714, with C18 recomputed so that only the embedded check fails.
    valid = KNOWN_VALID[0]
    wrong17 = next(char for char in "0123456789X" if char != valid[16])
    first17 = valid[:16] + wrong17
    with pytest.raises(InvalidIdentifier) as caught:
        parse_uscc(first17 + uscc_check_char(first17))
    expected = f"credit code organisation-code check character (position 17): expected {valid[16]}, got {wrong17}"
    assert str(caught.value) == expected


def test_check_functions_refuse_malformed_input() -> None:
    for call, text in ((uscc_check_char, "9111000010162374"), (org_code_check_char, "1016237"), (complete_uscc, "911100001016237I")):
        with pytest.raises(InvalidIdentifier):
            call(text)


@pytest.mark.parametrize("id_number", ["330703199006221715", "330703199006224035", "330703199006229485",
                                       "331002198501011311"])  # 台州's city code 10 reads as a province
def test_a_citizen_id_number_whose_check_characters_happen_to_fit_is_no_credit_code(id_number: str) -> None:
    """About one ID number in 341 also passes both check characters of a credit code: taken for
    an organisation's code, a person's number would be published in full. Positions 3-4 of a
    credit code are a province (the region code begins with it); of an ID number, a city."""
    from catalog.citizen_id import parse_id_number

    assert parse_id_number(id_number).number == id_number
    with pytest.raises(InvalidIdentifier, match="positions 3-4|citizen ID number"):
        parse_uscc(id_number)


def test_a_central_organisations_code_names_the_whole_country() -> None:
    """Organisations registered centrally carry the region 100000 (全国)."""
    code = complete_uscc("5110000050000039")
    assert parse_uscc(code).region_code == "100000"
