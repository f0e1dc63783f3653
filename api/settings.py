"""Runtime settings, read once from the environment.

Every setting has a safe embedded default so that `scripts/serve` works on a fresh machine:
an SQLite file under `var/`, keys under `var/keys/`, secrets generated under `var/secrets/`.
Production sets MIANZHENG_DATABASE_URL to PostgreSQL and passes the secrets in the
environment (see docs/operations.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """What the app and the CLI need to know about their environment."""

    var_dir: Path
    database_url: str
    public_url: str
    tsa_url: str | None = None
    sources_file: Path | None = None
    """Where the source departments are (MIANZHENG_SOURCES_FILE, see docs/connectors.md);
    None: every department in-process from its database under `sources_dir`."""
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    """Where secrets given as environment variables are read from (None: none are); never printed."""
    dev_idp: bool = False
    """Serve the development identity provider (开发测试用身份认证; never in production)."""
    idp_issuer: str | None = None
    idp_public_key_file: Path | None = None
    """The city identity provider's `iss` and its public key (PEM or JWKS) for citizen sign-in."""
    idp_origins: tuple[str, ...] = ()
    """The web origins of the provider's pages that hand staff sign-ins over (MIANZHENG_IDP_ORIGIN,
    comma-separated), as given; `api.identity_config` checks and normalises them."""
    exchange_department: str = "SJ"
    """The catalog department that operates the exchange: its seal signs receipts."""
    former_public_urls: tuple[str, ...] = ()
    """The public URLs the installation had before (recorded by `mianzheng init`), newest first."""
    statistics_max_age: float = 60.0
    """How old, in seconds, the public statistics may be before a process counts them again
    (`api.counted_statistics`); 0 counts them on every request (the tests' installations)."""

    @property
    def over_https(self) -> bool:
        """Whether the public address is https: cookies are then Secure, and browsers told to keep to https."""
        return self.public_url.startswith("https://")

    @property
    def key_dir(self) -> Path:
        return self.var_dir / "keys"

    @property
    def secrets_dir(self) -> Path:
        return self.var_dir / "secrets"

    @property
    def sources_dir(self) -> Path:
        """The source departments' own databases of the embedded default (the demo data)."""
        return self.var_dir / "sources"

    @property
    def dev_idp_dir(self) -> Path:
        return self.var_dir / "dev-idp"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        var_dir = Path(env.get("MIANZHENG_VAR_DIR", "var")).resolve()
        database_url = env.get("MIANZHENG_DATABASE_URL") or f"sqlite:///{var_dir / 'mianzheng.db'}"
        public_url = (env.get("MIANZHENG_PUBLIC_URL") or recorded_public_url(var_dir) or DEFAULT_PUBLIC_URL).rstrip("/")
        return cls(
            var_dir=var_dir,
            database_url=normalise_database_url(database_url),
            public_url=public_url,
            tsa_url=env.get("MIANZHENG_TSA_URL") or None,
            sources_file=Path(env["MIANZHENG_SOURCES_FILE"]).resolve() if env.get("MIANZHENG_SOURCES_FILE") else None,
            environ=dict(env),
            # On by default only for the embedded SQLite demo; production sets a real provider.
            dev_idp=_flag(env.get("MIANZHENG_DEV_IDP"), default=database_url.startswith("sqlite")),
            idp_issuer=env.get("MIANZHENG_IDP_ISSUER") or None,
            idp_public_key_file=Path(env["MIANZHENG_IDP_PUBLIC_KEY_FILE"]).resolve()
            if env.get("MIANZHENG_IDP_PUBLIC_KEY_FILE") else None,
            idp_origins=tuple(origin.strip() for origin in env.get("MIANZHENG_IDP_ORIGIN", "").split(",")
                              if origin.strip()),
            exchange_department=env.get("MIANZHENG_EXCHANGE_DEPARTMENT", "SJ"),
            former_public_urls=recorded_former_public_urls(var_dir),
        )


DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
PUBLIC_URL_FILE = "public-url"
"""Under var/: the public URL `mianzheng init` was run with, so every later command of this
installation (export-trust, certificate issue, serve) uses the same one unless told otherwise;
then, one a line, the URLs it had before, newest first."""


def recorded_public_url(var_dir: Path) -> str | None:
    recorded = _recorded_public_urls(var_dir)
    return recorded[0] if recorded else None


def recorded_former_public_urls(var_dir: Path) -> tuple[str, ...]:
    return tuple(_recorded_public_urls(var_dir)[1:])


def former_public_urls(var_dir: Path, public_url: str, named: Sequence[str] = ()) -> tuple[str, ...]:
    """The URLs recorded under var/ and the addresses `named` (by the database's seals), but
    `public_url`: its former URLs, once `public_url` is the installation's."""
    return tuple(dict.fromkeys(url for url in (*_recorded_public_urls(var_dir), *named) if url != public_url))


def record_public_url(var_dir: Path, public_url: str, former: Sequence[str]) -> None:
    """Record `public_url` as the installation's, with its `former` URLs."""
    (var_dir / PUBLIC_URL_FILE).write_text("".join(f"{url}\n" for url in (public_url, *former)), encoding="utf-8")


def _recorded_public_urls(var_dir: Path) -> list[str]:
    recorded = var_dir / PUBLIC_URL_FILE
    if not recorded.is_file():
        return []
    return [line.strip() for line in recorded.read_text(encoding="utf-8").splitlines() if line.strip()]


def _flag(value: str | None, *, default: bool) -> bool:
    if not value:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs given without a driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
