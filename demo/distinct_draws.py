"""Values that never repeat, drawn without remembering the ones given out: the demo generator's
ID numbers and credit codes are unique by construction, so its memory does not grow with the city.

`SlotDraws` hands out (day, slot) pairs per key (an ID number's region, sex and age: the day
within the year of that age and the sequence slot). The k-th pair of a key is
(DAYS[(k + a) mod days], SLOTS[(k + b) mod slots]) with DAYS and SLOTS seeded shuffles and a, b
seeded per key: by the Chinese remainder theorem, k -> (k mod days, k mod slots) is one-to-one
for k < days × slots when the two are coprime, so no two draws of a key are equal until the key
has used every pair (then ValueError). It keeps one counter and two offsets per key.

`Scrambled` is a seeded bijection of range(size) (an affine map with a large multiplier
coprime to size), for numbering things in an order that does not look sequential.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable


class SlotDraws:
    """Per key, the next unused (day, slot) pair, day in 1..days and slot in 1..slots."""

    def __init__(self, seed: str, days: int, slots: int) -> None:
        if math.gcd(days, slots) != 1:
            raise ValueError("the number of days and of slots must be coprime")
        rng = random.Random(seed)
        self.seed = seed
        self.days = rng.sample(range(1, days + 1), days)
        self.slots = rng.sample(range(1, slots + 1), slots)
        self.keys: dict[Hashable, tuple[int, int, int]] = {}  # key -> (count, day offset, slot offset)

    def next(self, key: Hashable) -> tuple[int, int]:
        count, day_offset, slot_offset = self.keys.get(key) or self._offsets(key)
        if count == len(self.days) * len(self.slots):
            raise ValueError(f"every (day, slot) pair of {key!r} is taken")
        self.keys[key] = (count + 1, day_offset, slot_offset)
        return (self.days[(count + day_offset) % len(self.days)],
                self.slots[(count + slot_offset) % len(self.slots)])

    def _offsets(self, key: Hashable) -> tuple[int, int, int]:
        rng = random.Random(f"{self.seed}/{key!r}")
        return 0, rng.randrange(len(self.days)), rng.randrange(len(self.slots))


class Scrambled:
    """A seeded bijection of range(size): consecutive numbers map far apart."""

    def __init__(self, seed: str, size: int) -> None:
        rng = random.Random(seed)
        self.size = size
        self.offset = rng.randrange(size)
        self.multiplier = rng.randrange(size // 3, size)
        while math.gcd(self.multiplier, size) != 1:
            self.multiplier += 1

    def __getitem__(self, number: int) -> int:
        if not 0 <= number < self.size:
            raise ValueError(f"only {self.size} distinct values: {number} is out of range")
        return (self.multiplier * number + self.offset) % self.size
