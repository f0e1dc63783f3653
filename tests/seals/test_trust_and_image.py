"""Published trust material (directory, JWKS) and the seal image."""

from __future__ import annotations

import json
import math
from io import BytesIO
from pathlib import Path

import pytest

from cryptography.hazmat.primitives.serialization import Encoding
from joserfc.jwk import KeySet
from PIL import Image
from reportlab.pdfgen.canvas import Canvas

from seals.jws import sign_jws
from seals.seal_image import SealText, draw_seal, seal_geometry, seal_png
from seals.trust import TrustStore
from seals.verdict import Status
from seals.verify_jws import verify_jws
from tests.seals.conftest import Pki


def test_export_and_load(pki: Pki, tmp_path: Path) -> None:
    trust = pki.trust()
    trust.export(tmp_path)
    assert {path.name for path in tmp_path.iterdir()} == {"root.pem", "seals", "crl.der", "crl.pem", "jwks.json"}
    loaded = TrustStore.load(tmp_path)
    assert loaded.root == trust.root and loaded.seal_certificates == trust.seal_certificates
    assert loaded.crl is not None and trust.crl is not None
    assert loaded.crl.public_bytes(Encoding.DER) == trust.crl.public_bytes(Encoding.DER)
    token = sign_jws({"n": 1}, pki.signer())
    assert verify_jws(token, loaded).verdict.status is Status.VALID


def test_jwks_is_usable_by_a_jose_library(pki: Pki) -> None:
    document = json.loads(json.dumps(pki.trust().jwks()))
    (key,) = document["keys"]
    assert key["kid"] == key["x5t#S256"] == pki.signer().key_id
    assert key["alg"] == "ES256" and len(key["x5c"]) == 2
    key_set = KeySet.import_key_set(document)
    assert key_set.get_by_kid(pki.signer().key_id) is not None


def test_geometry_places_every_character() -> None:
    text = SealText("金华市民政局", code="3307010012345")
    geometry = seal_geometry(text, 100)
    assert len(geometry.glyphs) == len(text.department_name) + len(text.purpose) + len(text.code)
    name = geometry.glyphs[: len(text.department_name)]
    assert name[0].x < 0 < name[-1].x and abs(name[0].angle + name[-1].angle) < 1e-9  # symmetric arc
    assert all(abs(glyph.x) < 50 and abs(glyph.y) < 50 for glyph in geometry.glyphs)
    assert len(geometry.star) == 10


def test_png_is_a_red_seal_on_transparent_background() -> None:
    image = Image.open(BytesIO(seal_png(SealText("金华市民政局"), 200)))
    assert image.size == (200, 200) and image.mode == "RGBA"
    assert image.getpixel((0, 0))[3] == 0  # corner outside the ring
    red, green, blue, alpha = image.getpixel((100, 100))  # centre of the star
    assert alpha == 255 and red > 200 and green < 60 and blue < 60


def test_pdf_drawing_is_vector() -> None:
    output = BytesIO()
    canvas = Canvas(output, pageCompression=0)
    draw_seal(canvas, 300, 400, 120, SealText("金华市民政局"))
    canvas.save()
    assert b"MianzhengSong-Regular" in output.getvalue() and b"/XObject" not in output.getvalue()
    assert b"/FontFile2" in output.getvalue()  # the seal's characters travel with the PDF


@pytest.mark.parametrize("name", ["金华市民政局", "金华市不动产登记中心", "金华市婺城区城东街道办事处"])
def test_ring_text_is_centred_and_clear_of_the_ring(name: str) -> None:
    """The department name sits symmetrically under the top of the ring, with a clear band of
    paper between the characters and the ring (pixels of the rendered seal)."""
    pixels = 600
    image = Image.open(BytesIO(seal_png(SealText(name, purpose=""), pixels))).convert("RGBA")
    geometry = seal_geometry(SealText(name, purpose=""), pixels * 0.98)
    centre = pixels / 2
    inner = geometry.ring_radius - geometry.ring_width / 2
    ink = [(x, y) for x in range(pixels) for y in range(pixels)
           if image.getpixel((x, y))[3] > 128 and 0.2 * pixels < math.dist((x, y), (centre, centre)) < inner - 3]
    left, right = min(x for x, _ in ink), max(x for x, _ in ink)  # the characters, not the star or ring
    assert abs((left + right) / 2 - centre) < 0.01 * pixels
    band = [math.dist(point, (centre, centre)) for point in ink]
    assert max(band) < inner - 0.01 * pixels  # at least 6 px of paper inside the ring


def test_the_song_face_prints_every_character_the_service_can_put_on_a_certificate() -> None:
    """Names of departments, proofs, labels and values of the catalog, and every demo name."""
    from catalog.loading import bundled_catalog_path
    from demo import vocabulary as demo_vocabulary
    from seals.fonts import missing_glyphs

    texts = [path.read_text("utf-8") for path in bundled_catalog_path().glob("*.yaml")]
    texts += [str(value) for value in vars(demo_vocabulary).values() if isinstance(value, (str, tuple, list, dict))]
    assert missing_glyphs("".join(texts).replace("\n", "")) == set()  # the files' line breaks print nowhere


def test_the_song_face_prints_names_common_today_and_refuses_what_it_lacks() -> None:
    """Characters frequent in the names of people born since the 1980s are outside GB 2312; a
    citizen named with one would get no certificate at all. A character of the extension blocks
    is still refused, by name, rather than printed blank."""
    from seals.fonts import missing_glyphs

    assert missing_glyphs("王珺 李玥 张堃 陈喆 刘昇 朱镕基 周琎 吴玙 赵犇 孙淼 钱垚 冯翀 黄婕 杨昊 何䶮 李〇") == {"䶮"}
    assert missing_glyphs("𠀀") == {"𠀀"}
