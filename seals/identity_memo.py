"""Remembering a pure function of certificates by the identity of its arguments.

A `cryptography` certificate is hashed and compared by walking its parsed structure, which costs
microseconds each time: a `functools.lru_cache` keyed by certificates spends more on its lookup
than some of the work it saves, several times per verification. The certificates a verifier sees
again and again are the same objects (a trust store's, or an `x5c` entry's, parsed once per
process), so `by_identity` looks them up by `id` first, which is free. An entry holds its
arguments, so they stay alive while it is remembered, and two objects alive at once never share
an `id`: arguments whose ids match an entry's are that entry's objects. Arguments not seen before
go to the wrapped function (itself remembered by value, where that pays). A call that raises is
not remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

Result = TypeVar("Result")


class by_identity(Generic[Result]):  # noqa: N801 - used as a decorator, like functools.lru_cache
    """`function` remembered by the identity of its positional arguments (at most `size` entries;
    when full, forgotten all at once)."""

    def __init__(self, function: Callable[..., Result], size: int = 256) -> None:
        self._function = function
        self._size = size
        self._entries: dict[tuple[int, ...], tuple[tuple[Any, ...], Result]] = {}
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    def __call__(self, *arguments: Any) -> Result:
        key = tuple(map(id, arguments))
        entry = self._entries.get(key)
        if entry is not None:  # the same objects: the entry keeps its own alive (see the module)
            return entry[1]
        result = self._function(*arguments)
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[key] = (arguments, result)
        return result
