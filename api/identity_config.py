"""How the app configures sign-in: the identity providers it trusts, by issuer, and the sites
from which a staff sign-in may be handed over.

Production: MIANZHENG_IDP_ISSUER and MIANZHENG_IDP_PUBLIC_KEY_FILE (PEM or JWKS), set
together; MIANZHENG_IDP_ORIGIN names the web origins of the provider's pages that post staff
assertions to `/caseworker/session` (by default the issuer's own origin, when the issuer is a
web address). Development: with MIANZHENG_DEV_IDP on, the development identity provider of the
demo part (`api.extensions`; its key under var/dev-idp/, generated on first use) is trusted as
well, under its own issuer; it signs staff in on the service's own site.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol
from urllib.parse import urlsplit

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
    handover_origins: tuple[str, ...] = ()
    """The web origins (`scheme://host[:port]`, as a browser's `Origin` header names them) of the
    provider's pages that hand staff sign-ins over, in the order configured (the first is where
    signed-out pages send people); the service's own origin is always one too."""


def identity_config(settings: Settings) -> IdentityConfig:
    """The trusted providers; `InvalidKeyMaterial` when the production configuration is broken."""
    trusted, handover_origins = city_provider(settings)
    demo = demo_extension(settings)
    dev_idp: DevelopmentProvider | None = demo.development_provider(settings) if demo is not None else None
    if dev_idp is not None:
        trusted[dev_idp.issuer] = dev_idp.public_keys
    return IdentityConfig(trusted=MappingProxyType(trusted), dev_idp=dev_idp, handover_origins=handover_origins)


def city_provider(settings: Settings) -> tuple[dict[str, KeySet], tuple[str, ...]]:
    """The city's provider as configured: its keys by issuer (none when not configured) and the
    origins that hand sign-ins over; `InvalidKeyMaterial` when the configuration is broken. Cheap
    (no development provider): `mianzheng serve` checks it before it starts."""
    trusted: dict[str, KeySet] = {}
    if bool(settings.idp_issuer) != bool(settings.idp_public_key_file):
        raise InvalidKeyMaterial("set MIANZHENG_IDP_ISSUER and MIANZHENG_IDP_PUBLIC_KEY_FILE together")
    if settings.idp_issuer and settings.idp_public_key_file:
        try:
            material = settings.idp_public_key_file.read_bytes()
        except OSError as error:
            raise InvalidKeyMaterial(f"cannot read the identity provider key file: {error.strerror}") from None
        trusted[settings.idp_issuer] = load_public_keys(material)
    handover_origins = tuple(dict.fromkeys(_configured_origin(origin) for origin in settings.idp_origins))
    if not handover_origins and settings.idp_issuer and (issuer_origin := web_origin(settings.idp_issuer)):
        handover_origins = (issuer_origin,)
    return trusted, handover_origins


def web_origin(url: str) -> str | None:
    """The web origin of an http(s) URL as browsers serialise it (lower case, no default port);
    None for anything else."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else "")


def _configured_origin(value: str) -> str:
    """An origin of MIANZHENG_IDP_ORIGIN, normalised; `InvalidKeyMaterial` for anything but an origin."""
    origin = web_origin(value)
    if origin is not None:
        parts = urlsplit(value.strip())
        if parts.path in ("", "/") and not (parts.query or parts.fragment) and _sendable_host(parts.hostname or ""):
            return origin
    raise InvalidKeyMaterial(f"MIANZHENG_IDP_ORIGIN: {value!r} is not a web origin such as https://sso.example.gov.cn:"
                             " a scheme and a host with an optional port, no path; the host ASCII labels without an"
                             " empty one (no trailing dot), an international name in its xn-- form, or an IP address"
                             " as browsers write it")


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
"""A last label a browser reads as an IPv4 address, however written (`127.000.000.001`, `0x7f`)."""


def _sendable_host(host: str) -> bool:
    """Whether a browser sends `host` (lower case, as `urlsplit` gives it) as it stands in an
    `Origin`: ASCII labels, or an IP address as browsers write it (IPv6 shortest, IPv4 dotted);
    not a backslash (a browser's slash), a space, an escape, an empty label or an address written
    otherwise, which would leave every hand-over refused."""
    if ":" in host or _NUMBER.fullmatch(host.rsplit(".", 1)[-1]):
        try:  # an IPv6 zone (`%25eth0`) is the machine's own, which no browser takes in an address
            return "%" not in host and str(ipaddress.ip_address(host)) == host
        except ValueError:
            return False
    return all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


_DEFAULT_PORTS = {"http": 80, "https": 443}
