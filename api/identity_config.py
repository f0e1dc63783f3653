"""How the app configures citizen sign-in: the identity providers it trusts, by issuer.

Production: MIANZHENG_IDP_ISSUER and MIANZHENG_IDP_PUBLIC_KEY_FILE (PEM or JWKS), set
together. Development: with MIANZHENG_DEV_IDP on, the development identity provider of the demo
part (`api.extensions`; its key under var/dev-idp/, generated on first use) is trusted as well,
under its own issuer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol

from joserfc.jwk import KeySet

from api.extensions import demo_extension
from api.settings import Settings
from exchange.identity import InvalidKeyMaterial, load_public_keys


class DevelopmentProvider(Protocol):
    """What the app knows of the development identity provider: whose assertions to trust."""

    @property
    def issuer(self) -> str: ...

    @property
    def public_keys(self) -> KeySet: ...


@dataclass(frozen=True)
class IdentityConfig:
    trusted: Mapping[str, KeySet]
    """Verification keys by issuer (`iss`)."""
    dev_idp: DevelopmentProvider | None
    """The development identity provider (demo mode only): its sign-in pages are served."""


def identity_config(settings: Settings) -> IdentityConfig:
    """The trusted providers; `InvalidKeyMaterial` when the production configuration is broken."""
    trusted: dict[str, KeySet] = {}
    if bool(settings.idp_issuer) != bool(settings.idp_public_key_file):
        raise InvalidKeyMaterial("set MIANZHENG_IDP_ISSUER and MIANZHENG_IDP_PUBLIC_KEY_FILE together")
    if settings.idp_issuer and settings.idp_public_key_file:
        try:
            material = settings.idp_public_key_file.read_bytes()
        except OSError as error:
            raise InvalidKeyMaterial(f"cannot read the identity provider key file: {error.strerror}") from None
        trusted[settings.idp_issuer] = load_public_keys(material)
    demo = demo_extension(settings)
    dev_idp: DevelopmentProvider | None = demo.development_provider(settings) if demo is not None else None
    if dev_idp is not None:
        trusted[dev_idp.issuer] = dev_idp.public_keys
    return IdentityConfig(trusted=MappingProxyType(trusted), dev_idp=dev_idp)
