"""Fixtures of the certificate tests: a throwaway city PKI (the seals tests' pattern: SQLite in
memory, key files under a temporary directory) with the registry's (BDC) seal and the
exchange's (SJ) seal, a second, unrelated PKI, and a 无房证明 issued in all three forms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from catalog.loading import bundled_catalog_path, load_catalog
from catalog.model import Catalog
from core.orm import Base
from exchange.certificates.credential import sign_credential
from exchange.certificates.model import CertificateContent, StatusEntry, build_content, format_time
from exchange.certificates.pdf import issue_pdf
from exchange.certificates.qr_payload import encode_qr
from exchange.certificates.status_list import StatusList, sign_status_list
from seals import registry
from seals.keys import FileKeySigner, clear_key_cache
from seals.settings import SealSettings
from seals.trust import TrustStore

ISSUED_AT = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
"""Relative to the clock: the PAdES signing time is pyHanko's real clock, not `issued_at`."""
SEARCHED_AT = ISSUED_AT - timedelta(minutes=1)
NOW = ISSUED_AT + timedelta(days=1)
ID_NUMBER = "330702199003071233"
LIST_URL = "http://127.0.0.1:5000/api/v1/trust/status/1"
STATUS_INDEX = 40_321


@dataclass
class Pki:
    settings: SealSettings
    session: Session

    def signer(self, department: str) -> FileKeySigner:
        return registry.active_signer(self.session, self.settings, department)

    def trust(self) -> TrustStore:
        registry.refresh_crl(self.session, self.settings)  # as the seal officer's daily run does
        return registry.trust_store(self.session)


def make_pki(directory: Path, catalog: Catalog, departments: tuple[str, ...] = ("BDC", "SJ")) -> Iterator[Pki]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    settings = SealSettings(
        key_dir=directory / "keys", passphrase=b"test passphrase", crl_url="http://127.0.0.1:5000/api/v1/trust/crl.der"
    )
    with Session(engine) as session:
        registry.init_ca(session, settings, now=ISSUED_AT - timedelta(days=30))
        for code in departments:
            department = catalog.departments[code]
            registry.issue_seal(
                session,
                settings,
                department_code=code,
                department_name=department.legal_name_zh,
                uscc=department.uscc,
                now=ISSUED_AT - timedelta(days=30),
            )
        session.commit()
        yield Pki(settings, session)
    engine.dispose()
    clear_key_cache()


@dataclass(frozen=True)
class Issued:
    content: CertificateContent
    credential: str
    qr: str
    pdf: bytes


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(bundled_catalog_path())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Pki]:
    yield from make_pki(tmp_path_factory.mktemp("pki"), catalog)


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory, catalog: Catalog) -> Iterator[Pki]:
    """Another root with a seal of the same department (name and USCC): a forger's CA."""
    yield from make_pki(tmp_path_factory.mktemp("other"), catalog, ("BDC",))


@pytest.fixture(scope="session")
def trust(pki: Pki) -> TrustStore:
    return pki.trust()


def no_housing_content(catalog: Catalog, *, serial: int = 42, issued_at: datetime = ISSUED_AT) -> CertificateContent:
    return build_content(
        proof=catalog.proofs["NO_HOUSING"],
        department=catalog.departments["BDC"],
        holder_name="张三",
        id_number=ID_NUMBER,
        data={
            "full_name": "张三",
            "id_number": ID_NUMBER,
            "search_scope_region": "330700",
            "has_registered_property": False,
            "property_count": 0,
            "search_purpose": "申请公共租赁住房",
            "search_no": "BDC-CX-2026-0012345",
            "searched_at": format_time(issued_at - timedelta(minutes=1)),
        },
        purpose="申请公共租赁住房",
        serial=serial,
        status=StatusEntry(LIST_URL, STATUS_INDEX),
        issued_at=issued_at,
        searched_at=issued_at - timedelta(minutes=1),
    )


def issue_all(content: CertificateContent, signer: FileKeySigner) -> Issued:
    credential = sign_credential(content, signer)
    qr = encode_qr(content, signer)
    return Issued(content, credential, qr, issue_pdf(content, credential, qr, signer))


@pytest.fixture(scope="session")
def issued(pki: Pki, catalog: Catalog) -> Issued:
    return issue_all(no_housing_content(catalog), pki.signer("BDC"))


@pytest.fixture(scope="session")
def status_list_token(pki: Pki) -> str:
    return sign_status_list(StatusList.empty(LIST_URL), pki.signer("SJ"), now=ISSUED_AT)


@pytest.fixture(scope="session")
def revoked_list_token(pki: Pki) -> str:
    revoked = StatusList.empty(LIST_URL).revoke(STATUS_INDEX, "data_changed")
    return sign_status_list(revoked, pki.signer("SJ"), now=ISSUED_AT)
