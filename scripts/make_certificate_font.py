"""Build the certificates' typeface, `seals/fonts/MianzhengSong-Regular.ttf`.

The certificates print in a Song (宋体) typeface, as GB/T 9704 asks of official documents: Noto
Serif SC (SIL Open Font License 1.1), as the PyPI package `pylopdf-fonts-zh-cn` ships it. reportlab
embeds only TrueType outlines, and the full font is 11 MB (its TrueType subset below is 10 MB; a
PDF embeds only the glyphs it uses), so this script keeps the characters a certificate can print and converts the outlines from CFF to TrueType (fontTools' cu2qu):

- every character of GB 2312 (6,763 Chinese characters, punctuation and symbols) and printable ASCII;
- every CJK Unified Ideograph of Unicode 1.1 (U+4E00–U+9FA5, 20,902 characters, all of which GBK
  encodes), and 〇: GB 2312 lacks characters common in names today (珺 玥 堃 喆 昇 镕), and a citizen
  whose name the face cannot print gets no certificate, online or at the counter;
- every character of the catalog, the demo data and the certificate and seal code, so any text
  the service prints is covered (a test checks it).

The result is renamed (a Modified Version under the OFL, family "Mianzheng Song") and keeps the
licence; it is committed, so installing mianzheng needs no font package. Run again after adding
characters outside these to the catalog:

    python -m venv /tmp/fontvenv && /tmp/fontvenv/bin/pip install fonttools pylopdf-fonts-zh-cn==0.1.1
    /tmp/fontvenv/bin/python scripts/make_certificate_font.py
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "seals/fonts/MianzhengSong-Regular.ttf"
TEXT_SOURCES = ["catalog/data", "exchange/sources", "exchange/certificates", "seals/seal_image.py"]
FAMILY = "Mianzheng Song"
MAX_ERROR = 1.0  # font units (1000 per em): the largest deviation of the quadratic outlines


def gb2312_characters() -> set[str]:
    characters = set()
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                characters.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return characters


def unified_ideographs() -> set[str]:
    """U+4E00–U+9FA5, and 〇 (U+3007), the ideographic zero of dates (二〇二六年) and of some names."""
    return {chr(code) for code in range(0x4E00, 0x9FA6)} | {"\u3007"}


def project_characters() -> set[str]:
    characters: set[str] = set()
    for source in TEXT_SOURCES:
        path = ROOT / source
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.suffix in (".py", ".yaml"):
                characters |= set(file.read_text(encoding="utf-8"))
    return {c for c in characters if c.isprintable()}


def to_truetype(font: TTFont) -> None:
    """Replace the CFF outlines by quadratic TrueType ones (glyf, loca, maxp 1.0, post 2)."""
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in font.getGlyphOrder():
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, MAX_ERROR, reverse_direction=True))
        glyphs[name] = pen.glyph()
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = font.getGlyphOrder()
    glyf.glyphs = glyphs
    font["loca"] = newTable("loca")
    maxp = font["maxp"]
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]
    post.formatType = 2.0
    post.extraNames = []
    post.mapping = {}
    post.glyphOrder = font.getGlyphOrder()
    font["head"].indexToLocFormat = 0
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def rename(font: TTFont) -> None:
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 6, 16, 17):
            names.removeNames(nameID=record.nameID)
    names.setName(FAMILY, 1, 3, 1, 0x409)
    names.setName("Regular", 2, 3, 1, 0x409)
    names.setName(f"{FAMILY} Regular; subset of Noto Serif SC 2.003", 3, 3, 1, 0x409)
    names.setName(FAMILY, 4, 3, 1, 0x409)
    names.setName("MianzhengSong-Regular", 6, 3, 1, 0x409)
    names.setName("Subset of Noto Serif SC 2.003 (SIL Open Font License 1.1) with TrueType outlines, "
                  "for mianzheng's certificates", 10, 3, 1, 0x409)


def main() -> None:
    source = importlib.resources.files("pylopdf_fonts_zh_cn") / "NotoSerifSC-Regular.otf"
    font = TTFont(str(source))
    wanted = (gb2312_characters() | unified_ideographs() | project_characters()
              | {chr(c) for c in range(0x20, 0x7F)})
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=[ord(c) for c in wanted])
    subsetter.subset(font)
    to_truetype(font)
    rename(font)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(TARGET))
    print(f"{TARGET.relative_to(ROOT)}: {len(font.getGlyphOrder())} glyphs, {TARGET.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
