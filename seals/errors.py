"""Domain errors of the seals package; the api layer maps them to HTTP problems.

Messages name the department or the certificate serial, never key material or passphrases.
"""

from __future__ import annotations

from enum import Enum


class SealError(Exception):
    """Base class of every error raised by seals/."""


class CaMissing(SealError):
    """No city CA has been created or imported yet."""


class CaAlreadyExists(SealError):
    """A city CA exists already; a second one is not created silently."""


class CaMaterialFault(str, Enum):
    """Why a CA certificate and key offered as the city root cannot serve as it."""

    UNREADABLE_CERTIFICATE = "unreadable_certificate"
    UNREADABLE_KEY = "unreadable_key"
    NOT_A_CA = "not_a_ca"
    CANNOT_SIGN = "cannot_sign"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    NOT_P256 = "not_p256"
    KEY_MISMATCH = "key_mismatch"
    NOT_SELF_SIGNED = "not_self_signed"
    NO_KEY_IDENTIFIER = "no_key_identifier"


class InvalidCaMaterial(SealError):
    """An imported CA certificate or key is unusable (not a CA, key mismatch, expired ...)."""

    def __init__(self, message: str, fault: CaMaterialFault) -> None:
        super().__init__(message)
        self.fault = fault


class CrlNotTheRoots(SealError):
    """The stored CRL is not signed by the city root: the next one, which keeps every revocation
    it lists, is not signed over it."""


class SealNotFound(SealError):
    """The department has no seal in the requested state."""


class NoActiveSeal(SealNotFound):
    """The department has no seal to sign with now (none issued, revoked or lapsed): signing
    waits for the seal officer, so the service is unavailable rather than anything missing."""


class SealAlreadyActive(SealError):
    """The department has an active seal already; rotate it rather than issue a second one."""


class SealRevoked(SealError):
    """The seal was revoked and cannot sign."""


class SealChanged(SealError):
    """Another command changed the seal's status while this one ran (two seal officers at once);
    this one changed nothing."""


class KeyUnavailable(SealError):
    """A key file is missing, unreadable, or the passphrase does not open it."""


class SigningFailed(SealError):
    """Producing a signature failed (for example the time-stamp authority did not answer)."""
