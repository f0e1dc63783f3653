"""The exceptions the exchange's services share.

Each service module defines its own specific errors (`clients.InvalidCredentials`,
`consent.ConsentExpired`, ...); the ones here are common to several of them. Messages are
safe to show to the caller: they never contain a secret or an ID number in clear.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every domain error the exchange raises."""


class InvalidInput(ExchangeError):
    """A value given to a service is not acceptable; `field` names it (e.g. `matter`). Where a
    caseworker's command shows it, `detail_zh` says the same in Chinese."""

    def __init__(self, field: str, detail: str, detail_zh: str | None = None) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.detail_zh = detail_zh


class UnknownCode(InvalidInput):
    """A department, matter or proof code that the live catalog does not have."""


class GlyphsMissing(ExchangeError):
    """Text a document would print has characters its Song face cannot print (`characters`);
    nothing is rendered, since a blank where a name's character should be would misstate it."""

    def __init__(self, document: str, characters: set[str]) -> None:
        self.characters = "".join(sorted(characters))
        super().__init__(f"the {document} font has no glyph for {self.characters!r}")


class NotFound(ExchangeError):
    """The named record does not exist (or is not visible to the caller)."""
