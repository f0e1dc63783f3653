"""The typeface of everything the city seals and prints: Mianzheng Song, a Song (宋体) face as
GB/T 9704 asks of official documents, shipped with the code so that no system font is needed.

It is a subset of Noto Serif SC with TrueType outlines (reportlab embeds only those), under the
SIL Open Font License 1.1 (`OFL.txt` beside it); `scripts/make_certificate_font.py` builds it.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

SONG_FONT_FILE = Path(__file__).with_name("MianzhengSong-Regular.ttf")
SONG_FONT_NAME = "MianzhengSong"
"""The name under which `register_song_font` registers the face with reportlab."""


def register_song_font() -> str:
    """Register the face with reportlab (once per process); its reportlab font name.

    reportlab embeds a TrueType face in subsets of 256 characters. By default it keeps codes
    32-127 of the first for ASCII, which leaves about 160 for Chinese: a certificate's page uses
    about that many, and one more sentence made it embed the face twice. Without that
    reservation every code takes whichever character comes first; the text is extracted and
    searched through the font's Unicode map either way."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if SONG_FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(SONG_FONT_NAME, str(SONG_FONT_FILE), asciiReadable=False))
    return SONG_FONT_NAME


def missing_glyphs(text: str) -> set[str]:
    """The characters of `text` the face cannot print (empty when it prints all of them): those it
    has no glyph for, and control and format characters (a line break, a tab, a right-to-left
    override, a zero-width space), which the page would show as a box or a space, or not at
    all, while the signed data keeps them."""
    from reportlab.pdfbase import pdfmetrics

    face = pdfmetrics.getFont(register_song_font()).face
    return {char for char in text if unicodedata.category(char) in ("Cc", "Cf")
            or (char.isprintable() and not char.isspace() and ord(char) not in face.charToGlyph)}
