"""The exceptions of the catalog package.

`InvalidIdentifier` is raised for a malformed citizen ID number or unified social credit
code. `CatalogInvalid` rejects a catalog as a whole and carries every `Problem` found in it,
each naming the file, the entry, the field and what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class InvalidIdentifier(ValueError):
    """An identifier (GB 11643 ID number, GB 32100 credit code) that does not validate.

    The message says exactly what is wrong, in one line, and never repeats the whole
    identifier (ID numbers are personal data and messages end up in logs).
    """


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalog.

    `file` is where to look (`proofs.yaml`, or `catalog.json[proofs]` for a single document),
    `entry` the entry's code or its list index (`[3]`), `field` a dotted path inside the entry
    (`data_items[2].type`); `entry` and `field` are None for problems of the file as a whole.
    """

    file: str
    entry: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        location = ".".join(part for part in (self.entry, self.field) if part)
        if location:
            return f"{self.file}: {location}: {self.message}"
        return f"{self.file}: {self.message}"


class NoCatalogPublished(LookupError):
    """The database holds no published catalog yet (run `mianzheng init`)."""


class LiveVersionChanged(Exception):
    """Another version went live after the one a publication was edited from (`live`: its number)."""

    def __init__(self, live: int) -> None:
        super().__init__(f"version {live} is live now")
        self.live = live


class CatalogInvalid(ValueError):
    """The catalog was rejected as a whole; `problems` lists everything that is wrong."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("CatalogInvalid needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))
