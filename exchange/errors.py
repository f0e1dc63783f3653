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


class NotPrintable(ExchangeError):
    """A document cannot print all it would state; nothing is rendered. `detail_zh` tells the
    holder why, and to go to a counter."""

    detail_zh: str


class GlyphsMissing(NotPrintable):
    """Text a document would print has characters its Song face cannot print (`characters`);
    nothing is rendered, since a blank where a name's character should be would misstate it."""

    def __init__(self, document: str, characters: set[str]) -> None:
        self.characters = "".join(sorted(characters))
        self.detail_zh = f"文书所用字体缺少「{self.characters}」字，暂不能在网上出具，请到办事窗口办理。"
        super().__init__(f"the {document} font has no glyph for {self.characters!r}")


class PageOverflow(NotPrintable):
    """What a one-page document would print does not fit its page: the rows past the page (its
    validity, its purpose, the seal, the QR code) would be lost while the credential keeps them."""

    def __init__(self, document: str) -> None:
        self.detail_zh = "来源部门记录中的内容过长，一页文书印不下，暂不能在网上出具，请到办事窗口办理。"
        super().__init__(f"the {document} does not fit on its page")


class NotFound(ExchangeError):
    """The named record does not exist (or is not visible to the caller)."""
