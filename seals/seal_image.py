"""The red round seal (公章 style) as vector graphics for PDFs and as PNG.

One geometry function lays the seal out (ring, five-pointed star, the department name along
the upper arc with every character turned along the arc, the purpose such as 电子证明专用章
in a line under the star, an optional code number along the lower arc); two renderers draw
that geometry: reportlab on a PDF canvas (vector, the characters in the embedded Song face of
`seals.fonts`) and Pillow for PNG (supersampled, the same face). reportlab's own bitmap renderer needs rlPyCairo, whose
pycairo dependency has no wheel here and needs the cairo C library to build, so PNG goes
through Pillow (a reportlab dependency already).

Proportions follow the common 42 mm official seal: ring ~1.2 mm, star ~14 mm across.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable

from seals.fonts import SONG_FONT_FILE, register_song_font

SEAL_RED = (218, 37, 29)
SUPERSAMPLING = 4
MAX_NAME_ARC_DEGREES = 250.0
MIN_NAME_ARC_DEGREES = 170.0


@dataclass(frozen=True)
class SealText:
    """What a seal says."""

    department_name: str
    purpose: str = "电子证明专用章"
    code: str | None = None


@dataclass(frozen=True)
class Glyph:
    """One character centred at (x, y), turned `angle` degrees counter-clockwise, squeezed to `x_scale`."""

    char: str
    x: float
    y: float
    angle: float
    size: float
    x_scale: float


@dataclass(frozen=True)
class SealGeometry:
    """A seal laid out around (0, 0), y pointing up, in the caller's unit."""

    ring_radius: float
    ring_width: float
    star: tuple[tuple[float, float], ...]
    glyphs: tuple[Glyph, ...]
    bold: float
    """Stroke width that thickens the glyphs (seal characters are heavy)."""


def seal_geometry(text: SealText, diameter: float) -> SealGeometry:
    """Lay the seal out for a given outer diameter."""
    radius = diameter / 2
    ring_width = 0.03 * diameter
    return SealGeometry(
        ring_radius=radius - ring_width / 2,
        ring_width=ring_width,
        star=_star(0.167 * diameter, 0.382),
        glyphs=(
            *_name_glyphs(text.department_name, radius - ring_width, diameter),
            *_purpose_glyphs(text.purpose, diameter),
            *_code_glyphs(text.code or "", radius - ring_width, diameter),
        ),
        bold=0.003 * diameter,
    )


def draw_seal(canvas: Canvas, x: float, y: float, diameter: float, text: SealText,
              font_name: str | None = None) -> None:
    """Draw the seal as vector graphics on a reportlab canvas, centred at (x, y).

    `font_name` is a TrueType font the caller registered; by default the Song face of
    `seals.fonts`, embedded, so the PDF carries every glyph it shows."""
    font = font_name or register_song_font()
    geometry = seal_geometry(text, diameter)
    red = tuple(channel / 255 for channel in SEAL_RED)
    canvas.saveState()
    canvas.translate(x, y)
    canvas.setStrokeColorRGB(*red)
    canvas.setFillColorRGB(*red)
    canvas.setLineWidth(geometry.ring_width)
    canvas.circle(0, 0, geometry.ring_radius, stroke=1, fill=0)
    path = canvas.beginPath()
    path.moveTo(*geometry.star[0])
    for point in geometry.star[1:]:
        path.lineTo(*point)
    path.close()
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.setLineWidth(geometry.bold)
    for glyph in geometry.glyphs:
        canvas.saveState()
        canvas.translate(glyph.x, glyph.y)
        canvas.rotate(glyph.angle)
        canvas.scale(glyph.x_scale, 1)
        text_object = canvas.beginText()
        text_object.setTextRenderMode(2)  # fill and stroke: a heavier stroke, like a carved seal
        text_object.setFont(font, glyph.size)
        text_object.setTextOrigin(-pdfmetrics.stringWidth(glyph.char, font, glyph.size) / 2, -0.36 * glyph.size)
        text_object.textOut(glyph.char)
        canvas.drawText(text_object)
        canvas.restoreState()
    canvas.restoreState()


class SealFlowable(Flowable):
    """The seal as a platypus flowable of `diameter` points."""

    def __init__(self, text: SealText, diameter: float) -> None:
        super().__init__()
        self.seal_text = text
        self.diameter = diameter

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.diameter, self.diameter

    def draw(self) -> None:
        draw_seal(self.canv, self.diameter / 2, self.diameter / 2, self.diameter, self.seal_text)


def seal_png(text: SealText, pixels: int = 400, *, font_path: Path | None = None) -> bytes:
    """The seal as a PNG of `pixels` x `pixels`, red on a transparent background."""
    font_file = font_path or SONG_FONT_FILE
    side = pixels * SUPERSAMPLING
    geometry = seal_geometry(text, side * 0.98)
    centre = side / 2
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    colour = (*SEAL_RED, 255)
    outer = geometry.ring_radius + geometry.ring_width / 2
    draw.ellipse(
        (centre - outer, centre - outer, centre + outer, centre + outer),
        outline=colour,
        width=round(geometry.ring_width),
    )
    draw.polygon([(centre + px, centre - py) for px, py in geometry.star], fill=colour)
    fonts: dict[int, ImageFont.FreeTypeFont] = {}
    for glyph in geometry.glyphs:
        size = round(glyph.size)
        font = fonts.setdefault(size, ImageFont.truetype(str(font_file), size))
        tile = Image.new("RGBA", (2 * size, 2 * size), (0, 0, 0, 0))
        ImageDraw.Draw(tile).text(
            (size, size),
            glyph.char,
            font=font,
            fill=colour,
            anchor="mm",
            stroke_width=round(geometry.bold),
            stroke_fill=colour,
        )
        if glyph.x_scale != 1:
            tile = tile.resize((max(1, round(2 * size * glyph.x_scale)), 2 * size), Image.Resampling.LANCZOS)
        tile = tile.rotate(glyph.angle, resample=Image.Resampling.BICUBIC, expand=True)
        image.alpha_composite(
            tile, (round(centre + glyph.x - tile.width / 2), round(centre - glyph.y - tile.height / 2))
        )
    image = image.resize((pixels, pixels), Image.Resampling.LANCZOS)
    output = BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def _star(outer_radius: float, inner_ratio: float) -> tuple[tuple[float, float], ...]:
    points = []
    for index in range(10):
        radius = outer_radius if index % 2 == 0 else outer_radius * inner_ratio
        angle = math.radians(90 + 36 * index)
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return tuple(points)


def _name_glyphs(name: str, inner_radius: float, diameter: float) -> list[Glyph]:
    """The department name clockwise along the upper arc, each character's top pointing outward.

    Characters are spread over at least MIN_NAME_ARC_DEGREES (a short name is spaced out, as on
    a carved seal) and squeezed, then shrunk, when the name would need more than the maximum.
    """
    if not name:
        return []
    size = 0.115 * diameter
    x_scale = 0.85
    text_radius = inner_radius - 0.03 * diameter - 0.5 * size
    step = math.degrees(size * 1.05 * x_scale / text_radius)
    natural = step * len(name)
    if natural > MAX_NAME_ARC_DEGREES:
        shrink = MAX_NAME_ARC_DEGREES / natural
        size *= max(shrink, 0.75)
        x_scale *= shrink / max(shrink, 0.75)
        text_radius = inner_radius - 0.03 * diameter - 0.5 * size
    span = min(MAX_NAME_ARC_DEGREES, max(MIN_NAME_ARC_DEGREES, natural))
    step = span / len(name)
    glyphs = []
    for index, char in enumerate(name):
        angle = 90 + span / 2 - step * (index + 0.5)
        theta = math.radians(angle)
        glyphs.append(
            Glyph(char, text_radius * math.cos(theta), text_radius * math.sin(theta), angle - 90, size, x_scale)
        )
    return glyphs


def _purpose_glyphs(purpose: str, diameter: float) -> list[Glyph]:
    """The purpose in one horizontal line under the star."""
    if not purpose:
        return []
    size = min(0.085 * diameter, 0.66 * diameter / len(purpose))
    advance = size * 1.02
    baseline = -0.265 * diameter
    left = -advance * (len(purpose) - 1) / 2
    return [Glyph(char, left + advance * index, baseline, 0.0, size, 1.0) for index, char in enumerate(purpose)]


def _code_glyphs(code: str, inner_radius: float, diameter: float) -> list[Glyph]:
    """The code number left to right along the lower arc, each character's top pointing inward."""
    if not code:
        return []
    size = 0.05 * diameter
    text_radius = inner_radius - 0.015 * diameter - 0.5 * size
    step = math.degrees(size * 0.62 / text_radius)
    span = step * (len(code) - 1)
    glyphs = []
    for index, char in enumerate(code):
        angle = 270 - span / 2 + step * index
        theta = math.radians(angle)
        glyphs.append(Glyph(char, text_radius * math.cos(theta), text_radius * math.sin(theta), angle - 270, size, 1.0))
    return glyphs

