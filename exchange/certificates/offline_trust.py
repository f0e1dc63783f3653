"""Trust material for verifying e-certificates offline: the seals' trust store export
(`seals.trust.TrustStore.export`: root, seal certificates, CRL, JWKS) plus, next to it, every
signed certificate status list of the city, so that `mianzheng verify` can report a revoked
certificate without asking the server. The status lists are the exchange's, so they are written
here and not by `seals/`.

`status-list.jws` holds one compact JWS per line, list 1 first; a file written when the city had
one list (one line) reads the same way. A certificate is checked against the line that names its
list (`held_status_lists`).

`exchange-uscc.txt` names the exchange (its USCC): only its seal signs status lists, receipts,
presentations' bindings and usage copies, so a verifier accepts none of those from another
department's seal. A directory exported before it was written has none: export it again.

`issuers.jws` is the exchange's signed list of every published catalog (`issuer_list`), so that a
genuine seal making another department's proof or license, or making its own proof state what
its definition does not, is caught offline too. A directory exported
before it was written has none; its verifications then only match the seal to the issuer named."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from catalog.credit_code import parse_uscc
from core.staged_contents import staged_contents
from exchange.certificates.issuer_list import ISSUER_LIST_FILE, IssuerList, read_issuer_list
from exchange.certificates.status_list import signed_at
from seals.trust import EXPORTED_AT_FILE, TrustStore

STATUS_LIST_FILE = "status-list.jws"
EXCHANGE_FILE = "exchange-uscc.txt"


@dataclass(frozen=True)
class OfflineTrust:
    store: TrustStore
    status_lists: tuple[str, ...]
    """The signed status lists (compact JWS), none when the directory has none."""
    exchange_uscc: str | None
    """The exchange's USCC (`EXCHANGE_FILE`), None in a directory exported before it was written."""
    issuers: IssuerList | None = None
    """Who issues what (`ISSUER_LIST_FILE`, verified), None in a directory exported before it was
    written."""

    @property
    def status_list_signed_at(self) -> datetime | None:
        """Since when every status list is signed (the oldest `iat`), for telling the verifier how
        current they are; None when there is none or none can be read (the verdict reports a bad
        list)."""
        times = [time for time in map(signed_at, self.status_lists) if time is not None]
        return min(times, default=None)


def export_offline_trust(directory: Path, store: TrustStore, status_lists: list[str], exchange_uscc: str,
                         issuer_list: str, read_at: datetime | None = None) -> None:
    """Write the trust material, the signed status lists, the exchange's USCC and the signed list
    of issuers to `directory`; `read_at`, a time before `store` was read (`TrustStore.export`).
    All of it or nothing: a verifier must never load an export time beside older seals
    (`core.staged_contents`)."""
    with staged_contents(directory, last=(EXPORTED_AT_FILE,)) as staging:
        store.export(staging, read_at)
        (staging / STATUS_LIST_FILE).write_text("".join(token + "\n" for token in status_lists), encoding="ascii")
        (staging / EXCHANGE_FILE).write_text(exchange_uscc + "\n", encoding="ascii")
        (staging / ISSUER_LIST_FILE).write_text(issuer_list + "\n", encoding="ascii")


def load_offline_trust(directory: Path) -> OfflineTrust:
    """Read a directory written by `export_offline_trust` (OSError or ValueError if unusable;
    `IssuerListError`, a ValueError, for an issuer list that does not verify)."""
    status_path, issuers_path = directory / STATUS_LIST_FILE, directory / ISSUER_LIST_FILE
    lines = status_path.read_text(encoding="ascii").split() if status_path.exists() else []
    store, exchange = TrustStore.load(directory), exported_exchange(directory)
    issuers = read_issuer_list(issuers_path.read_text(encoding="ascii"), store, exchange) \
        if issuers_path.exists() and exchange is not None else None
    return OfflineTrust(store, tuple(lines), exchange, issuers)


def exported_exchange(directory: Path) -> str | None:
    """The exchange's USCC as `export_offline_trust` wrote it (None when it did not; ValueError
    for a file that is not a USCC)."""
    path = directory / EXCHANGE_FILE
    if not path.exists():
        return None
    return parse_uscc(path.read_text(encoding="ascii").strip()).code
