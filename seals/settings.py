"""Explicit settings of the seal services; the caller builds them from its own configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class SealSettings:
    """What the seal services need to know; seals/ never reads the environment itself.

    `crl_url` is the full URL at which the CRL is published; it goes into every seal
    certificate's CRL distribution point. `tsa_url`, when set, makes PDF signatures PAdES-B-T.
    The passphrase never appears in a repr.
    """

    key_dir: Path
    passphrase: bytes = field(repr=False)
    crl_url: str
    tsa_url: str | None = None
    seal_validity_days: int = 3 * 365
    crl_validity_days: int = 7
