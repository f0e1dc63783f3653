"""How the app configures seals/ and the signing of its status lists: key folder, passphrase, CRL URL,
time-stamp authority, and the seal and URL the status lists are signed with."""

from __future__ import annotations

from api.secrets import KEY_PASSPHRASE, read_secret
from api.settings import Settings
from exchange.status_lists import StatusListSigning
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


def status_list_signing(settings: Settings, sealing: SealSettings) -> StatusListSigning:
    """How this installation signs its status lists: the exchange's seal, under its public URL."""
    return StatusListSigning(sealing, settings.exchange_department, settings.public_url, settings.former_public_urls)
