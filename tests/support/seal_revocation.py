"""A seal revocation caught in the act: the seal officer's `seal revoke` has taken its time (the
next whole second) and not yet committed, while a request runs; it commits a second later. For
the tests that nothing is signed at or after a revocation's time."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TypeVar

from api.database import standalone_session
from api.seal_config import seal_settings
from api.settings import Settings
from seals.ca import RevocationReason
from seals.registry import revoke_seal

Answer = TypeVar("Answer")


def while_revoking(settings: Settings, department: str, request: Callable[[], Answer]) -> tuple[Answer, str, datetime]:
    """`request`'s answer, run on a thread once the revocation of `department`'s seal has passed its
    time uncommitted; the revoked seal's kid and its revocation time."""
    with ThreadPoolExecutor(1) as pool:
        with standalone_session(settings.database_url) as session:  # committed when the block ends
            seal = revoke_seal(session, seal_settings(settings), department, RevocationReason.AFFILIATION_CHANGED)
            assert seal.revoked_at is not None
            time.sleep(max(0.0, (seal.revoked_at - datetime.now(timezone.utc)).total_seconds()) + 0.2)
            answered = pool.submit(request)
            time.sleep(1.0)  # the request runs meanwhile, up to signing what it answers
        return answered.result(), seal.kid, seal.revoked_at
