"""Trust material for verifying e-certificates offline: the seals' trust store export
(`seals.trust.TrustStore.export`: root, seal certificates, CRL, JWKS) plus, next to it, the
city's signed certificate status list, so that `mianzheng verify` can report a revoked
certificate without asking the server. The status list is the exchange's, so it is written
here and not by `seals/`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.base64url import b64url_decode
from seals.trust import TrustStore

STATUS_LIST_FILE = "status-list.jws"


@dataclass(frozen=True)
class OfflineTrust:
    store: TrustStore
    status_list: str | None
    """The signed status list (compact JWS), or None when the directory has none."""

    @property
    def status_list_signed_at(self) -> datetime | None:
        """When the status list was signed, or None when there is none (see `signed_at`)."""
        return None if self.status_list is None else signed_at(self.status_list)


def signed_at(status_list: str) -> datetime | None:
    """When a signed status list (compact JWS) was signed (its `iat`), for telling a verifier how
    current it is; None when it cannot be read (its verification reports a bad list)."""
    if status_list.count(".") != 2:
        return None
    payload = status_list.split(".")[1]
    try:
        issued_at = json.loads(b64url_decode(payload))["iat"]
        return datetime.fromtimestamp(int(issued_at), timezone.utc)
    except (ValueError, KeyError, TypeError, OverflowError):
        return None


def export_offline_trust(directory: Path, store: TrustStore, status_list: str) -> None:
    """Write the trust material and the signed status list to `directory`."""
    store.export(directory)
    (directory / STATUS_LIST_FILE).write_text(status_list + "\n", encoding="ascii")


def load_offline_trust(directory: Path) -> OfflineTrust:
    """Read a directory written by `export_offline_trust` (OSError or ValueError if unusable)."""
    status_path = directory / STATUS_LIST_FILE
    status_list = status_path.read_text(encoding="ascii").strip() if status_path.exists() else None
    return OfflineTrust(TrustStore.load(directory), status_list or None)
