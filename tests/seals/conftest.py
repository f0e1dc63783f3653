"""Fixtures for the seals tests: a throwaway PKI (SQLite in memory, key files under tmp_path).

The schema is created with `Base.metadata.create_all` here only; the application's schema comes
from the Alembic migrations.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from core.orm import Base
from seals import registry
from seals.keys import FileKeySigner, clear_key_cache
from seals.seal_image import SealText, draw_seal
from seals.settings import SealSettings

DEPARTMENT = "JH_NRP"
DEPARTMENT_NAME = "金华市自然资源和规划局"
USCC = "11330700MB1234567X"


@dataclass
class Pki:
    settings: SealSettings
    session: Session

    def signer(self, department: str = DEPARTMENT) -> FileKeySigner:
        return registry.active_signer(self.session, self.settings, department)

    def trust(self):
        registry.refresh_crl(self.session, self.settings)  # as the seal officer's daily run does
        return registry.trust_store(self.session)


def make_pki(directory: Path) -> Iterator[Pki]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    settings = SealSettings(
        key_dir=directory / "keys",
        passphrase=b"correct horse battery staple",
        crl_url="http://127.0.0.1:5000/api/v1/trust/crl.der",
    )
    with Session(engine) as session:
        registry.init_ca(session, settings)
        registry.issue_seal(session, settings, department_code=DEPARTMENT, department_name=DEPARTMENT_NAME, uscc=USCC)
        session.commit()
        yield Pki(settings, session)
    engine.dispose()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pki]:
    """A shared PKI for tests that do not change it."""
    yield from make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def fresh_pki(tmp_path: Path) -> Iterator[Pki]:
    """A PKI of the test's own, for tests that revoke or rotate."""
    yield from make_pki(tmp_path)
    clear_key_cache()


def make_pdf(text: str = "无房证明 NO_HOUSING 测试") -> bytes:
    """A one-page A4 PDF with Chinese text and the seal, uncompressed so tests can find the text."""
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    output = BytesIO()
    canvas = Canvas(output, pagesize=A4, pageCompression=0, invariant=1)
    canvas.setFont("STSong-Light", 16)
    canvas.drawString(72, 760, text)
    canvas.setFont("Helvetica", 12)
    canvas.drawString(72, 730, "Holder: ZHANG San, ID 330702********1234")
    draw_seal(canvas, 420, 600, 120, SealText(DEPARTMENT_NAME))
    canvas.showPage()
    canvas.save()
    return output.getvalue()


@pytest.fixture(scope="session")
def unsigned_pdf() -> bytes:
    return make_pdf()
