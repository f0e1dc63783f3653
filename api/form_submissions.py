"""Forms that change something, done once however often they are submitted.

Each rendering of such a form (确认开具, 同意授权) carries a random submission id. Submitting the
same rendering again — a double click, Back and submit, a browser retrying — does the thing once,
and every submission lands on its result: the id is the citizen's own request id in the
exchange's reserve-claim-replay store (`exchange.answer_store`, as `Idempotency-Key` is on the
API). A submission that arrives while the first is still being done waits for it. A certificate's
id is minted with the page the proof is chosen on and carried through its preview, per proof and
purpose (`portal_request_id`): Back to the preview after issuing (the choice resent) confirms the
certificate issued, while another proof or purpose chosen on the same page is another request.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable, Mapping
from typing import TypeVar

from exchange.answer_store import RequestInProgress

SUBMISSION_FIELD = "submission"
FIRST_SUBMISSION_WAIT_SECONDS = 15.0
"""How long a repeated submission waits for the first one to be done (an issuance takes well under a second)."""
_POLL_SECONDS = 0.2
_SUBMISSION = re.compile(r"[A-Za-z0-9_-]{22}")

T = TypeVar("T")


def new_submission() -> str:
    """The submission id of a form being rendered (128 random bits)."""
    return secrets.token_urlsafe(16)


def portal_request_id(submission: str, *what: str) -> str:
    """The request id of a submission of `what` (a proof and purpose): one id per choice, so a
    page rendered once and used for two choices (Back, another proof) does each once."""
    digest = hashlib.sha256("\n".join((submission, *what)).encode("utf-8")).hexdigest()[:32]
    return f"portal-{digest}"


def submitted_id(form: Mapping[str, str]) -> str | None:
    """The submission id the form came back with; None when it has none (a page rendered before
    forms carried one) or a malformed one."""
    value = form.get(SUBMISSION_FIELD, "")
    return value if _SUBMISSION.fullmatch(value) else None


def once_the_first_is_done(attempt: Callable[[], T]) -> T:
    """`attempt()`, again while the first submission of the same form is still being done
    (`RequestInProgress`), for at most `FIRST_SUBMISSION_WAIT_SECONDS`."""
    deadline = time.monotonic() + FIRST_SUBMISSION_WAIT_SECONDS
    while True:
        try:
            return attempt()
        except RequestInProgress:
            if time.monotonic() > deadline:
                raise
            time.sleep(_POLL_SECONDS)
