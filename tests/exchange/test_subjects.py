"""Subject keys: keyed, stable, normalised, and refusing invalid ID numbers."""

from __future__ import annotations

import pytest

from catalog.errors import InvalidIdentifier
from exchange.subjects import subject_key

ID_NUMBER = "11010519491231002X"


def test_same_person_same_key_and_the_key_depends_on_the_secret() -> None:
    key = subject_key(b"secret-one", ID_NUMBER)
    assert key == subject_key(b"secret-one", " 11010519491231002x ")
    assert key != subject_key(b"secret-two", ID_NUMBER)
    assert len(key) == 64 and ID_NUMBER not in key


def test_an_invalid_id_number_is_refused() -> None:
    with pytest.raises(InvalidIdentifier):
        subject_key(b"secret", "110105194912310021")
