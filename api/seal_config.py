"""How the app configures seals/: key folder, passphrase, CRL URL and time-stamp authority."""

from __future__ import annotations

from api.secrets import KEY_PASSPHRASE, read_secret
from api.settings import Settings
from seals.settings import SealSettings

CRL_PATH = "/api/v1/trust/crl"


def seal_settings(settings: Settings) -> SealSettings:
    """The SealSettings of this installation (the CRL URL goes into every seal certificate)."""
    return SealSettings(
        key_dir=settings.key_dir,
        passphrase=read_secret(settings, KEY_PASSPHRASE),
        crl_url=settings.public_url + CRL_PATH,
        tsa_url=settings.tsa_url,
    )
