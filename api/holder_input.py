"""The holder's ID number a verifier may type on the verification pages (optional): spaces
dropped and checked, so a typing mistake is an input error rather than a genuine document
reported as someone else's."""

from __future__ import annotations

from catalog.citizen_id import parse_id_number

HOLDER_ID_NUMBER_INVALID_ZH = "持有人公民身份号码格式不正确，请核对后重新输入（也可以不填）。"


def typed_id_number(typed: str) -> str | None:
    """The ID number typed, without its spaces; None when nothing was typed;
    `InvalidIdentifier` when it is not a valid citizen ID number."""
    text = "".join(typed.split())
    return parse_id_number(text).number if text else None
