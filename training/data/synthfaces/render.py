"""Procedural face renderer behind the ``synthfaces`` dataset (Pillow only, no torch).

Why a synthetic dataset: it needs no download, renders any resolution, and, unlike
CelebA, knows the *truth* of every image (attributes, nuisance factors and the pixel
region each attribute occupies), so the evaluation can train an oracle and measure
whether an edit leaks outside its region or into a correlated attribute.

Every image is a pure function of ``(seed, index, size)``: a ``random.Random`` seeded
with both numbers draws a fixed-length list of uniforms, always in the same order and
whatever the attributes are, so ``overrides`` can flip one attribute of a face and
leave everything else (and every pixel outside that attribute's mask) unchanged.

Drawing happens on a canvas ``supersample`` times larger than the output, then
``Image.reduce`` averages each ``supersample x supersample`` block (the exact area
filter of supersampling), which gives smooth anti-aliased edges.

Ground truth and its ranges: ``truth``. Masks: ``eyeglasses`` and
``facial_hair`` are the pixels the attribute covers in its largest form for this face's
geometry (full beard for ``facial_hair``), present whether or not the attribute is
drawn; a pixel is in the mask when any sub-pixel of the supersampled canvas is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from training.data.synthfaces.truth import (
    BACKGROUNDS,
    CLOTHING,
    EYE_COLORS,
    HAIR_COLORS,
    LIGHT_DEPTH,
    MASK_NAMES,
    MAX_SHIFT,
    NUISANCE_SPEC,
    SCALE_RANGE,
    SKIN_TONES,
    SYNTH_ATTRIBUTES,
    apply_overrides,
    sample_truth,
)

__all__ = [
    "DEFAULT_SUPERSAMPLE",
    "MASK_NAMES",
    "NUISANCE_SPEC",
    "SYNTH_ATTRIBUTES",
    "SynthFace",
    "eye_centres",
    "render_face",
]

DEFAULT_SUPERSAMPLE = 3


@dataclass
class SynthFace:
    """One rendered face and its ground truth."""

    image: Image.Image  # RGB, size x size
    attributes: dict[str, int]  # SYNTH_ATTRIBUTES -> 0/1
    nuisance: dict[str, float | int]  # NUISANCE_SPEC names
    masks: dict[str, np.ndarray]  # MASK_NAMES -> bool (size, size); empty if not requested


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, int, int]:
    return tuple(int(x + (y - x) * t) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _luma(c: tuple[int, ...]) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _beard_color(hair: tuple[int, ...], skin: tuple[int, ...]) -> tuple[int, int, int]:
    """Darkened hair colour, kept well darker than the skin so that a beard always shows
    (a brown beard on dark skin would otherwise vanish at 32 x 32)."""
    beard = _mix(hair, (10, 8, 6), 0.45)
    target = max(min(0.5 * _luma(skin), _luma(skin) - 50.0), 8.0)
    ratio = target / max(_luma(beard), 1.0)
    return beard if ratio >= 1.0 else _mix((0, 0, 0), beard, ratio)


def _skin(t: float) -> tuple[int, int, int]:
    pos = t * (len(SKIN_TONES) - 1)
    i = min(int(pos), len(SKIN_TONES) - 2)
    return _mix(SKIN_TONES[i], SKIN_TONES[i + 1], pos - i)


class _Painter:
    """Maps unit-square face coordinates (after shift and scale) to canvas pixels."""

    def __init__(self, draw: ImageDraw.ImageDraw, canvas: int, nuisance: Mapping) -> None:
        self.draw = draw
        self.c = canvas
        lo, hi = SCALE_RANGE
        self.s = (lo + (hi - lo) * nuisance["scale"]) * canvas
        self.ox = (0.5 + MAX_SHIFT * (2 * nuisance["shift_x"] - 1)) * canvas
        self.oy = (0.5 + MAX_SHIFT * (2 * nuisance["shift_y"] - 1)) * canvas

    def pt(self, x: float, y: float) -> tuple[float, float]:
        return (self.ox + (x - 0.5) * self.s, self.oy + (y - 0.5) * self.s)

    def box(self, cx: float, cy: float, rx: float, ry: float) -> list[float]:
        x0, y0 = self.pt(cx - rx, cy - ry)
        x1, y1 = self.pt(cx + rx, cy + ry)
        return [x0, y0, x1, y1]

    def width(self, w: float) -> int:
        return max(1, round(w * self.s))

    def rounded_rect(self, xy: list[float], radius: float, fill, top: bool = True) -> None:
        """Filled rounded rectangle in pixels (bottom corners, and top ones if ``top``).

        Pillow's ``rounded_rectangle`` computes its corners in Python and was the
        slowest call of a render; two rectangles and quarter pie slices draw the same shape.
        """
        x0, y0, x1, y1 = xy
        r = min(radius, (x1 - x0) / 2, (y1 - y0) / 2 if top else y1 - y0)
        d = self.draw
        d.rectangle([x0 + r, y0, x1 - r, y1], fill=fill)
        if y1 - r > y0 + (r if top else 0):
            d.rectangle([x0, y0 + (r if top else 0), x1, y1 - r], fill=fill)
        corners = [(x0, y1 - 2 * r, 90, 180), (x1 - 2 * r, y1 - 2 * r, 0, 90)]
        if top:
            corners += [(x0, y0, 180, 270), (x1 - 2 * r, y0, 270, 360)]
        for cx, cy, a0, a1 in corners:
            d.pieslice([cx, cy, cx + 2 * r, cy + 2 * r], a0, a1, fill=fill)


@dataclass
class _Geometry:
    """Face layout in unit coordinates; shared by the image and the masks."""

    fw: float  # half width of the face
    fh: float  # half height
    eye_y: float
    eye_dx: float
    brow_y: float
    mouth_y: float
    beard_top: float
    male: bool

    @classmethod
    def of(cls, attributes: Mapping, nuisance: Mapping) -> _Geometry:
        fw = 0.19 + 0.05 * nuisance["face_width"]
        fh = 0.27
        return cls(
            fw=fw,
            fh=fh,
            eye_y=0.5 - 0.06 * fh,
            eye_dx=0.42 * fw,
            brow_y=0.5 - 0.3 * fh,
            mouth_y=0.5 + 0.55 * fh,
            beard_top=0.5 + 0.3 * fh,
            male=bool(attributes["male"]),
        )


def eye_centres(attributes: Mapping, nuisance: Mapping) -> tuple[tuple[float, float], tuple[float, float]]:
    """Centres of the left and right eye (as seen in the image), in fractions of the image side.

    The same geometry :func:`render_face` draws with (``_Geometry`` placed by ``_Painter`` on a
    unit canvas), so the exporter's alignment template is the renderer's own, not a guess.
    """
    g = _Geometry.of(attributes, nuisance)
    p = _Painter(None, 1, nuisance)  # type: ignore[arg-type]  # a unit canvas: pt() only, no drawing
    return p.pt(0.5 - g.eye_dx, g.eye_y), p.pt(0.5 + g.eye_dx, g.eye_y)


def _lower_face(p: _Painter, g: _Geometry, top: float, fill) -> None:
    """Fill the face below height ``top`` (the full-beard region)."""
    a0 = math.degrees(math.asin(max(-1.0, min(1.0, (top - 0.5) / g.fh))))
    p.draw.chord(p.box(0.5, 0.5, g.fw, g.fh), a0, 180 - a0, fill=fill)
    if g.male:  # the heavier, squarer jaw
        x0, y0 = p.pt(0.5 - 0.93 * g.fw, max(top, 0.5))
        x1, y1 = p.pt(0.5 + 0.93 * g.fw, 0.5 + 0.97 * g.fh)
        p.rounded_rect([x0, y0, x1, y1], 0.45 * g.fw * p.s, fill, top=False)


def _moustache(p: _Painter, g: _Geometry, fill) -> None:
    """A thick band between nose and mouth with ends drooping past the mouth corners."""
    y0, y1 = 0.5 + 0.36 * g.fh, g.mouth_y + 0.004
    tip = y1 + 0.045
    pts = [
        (0.5 - 0.06, y0),
        (0.5 + 0.06, y0),
        (0.5 + 0.12, y1),
        (0.5 + 0.12, tip),
        (0.5 + 0.085, tip),
        (0.5 + 0.085, y1),
        (0.5 - 0.085, y1),
        (0.5 - 0.085, tip),
        (0.5 - 0.12, tip),
        (0.5 - 0.12, y1),
    ]
    p.draw.polygon([p.pt(x, y) for x, y in pts], fill=fill)


def _facial_hair(p: _Painter, g: _Geometry, style: int, fill) -> None:
    if style == 0:  # full beard
        _lower_face(p, g, g.beard_top, fill)
    if style == 1:  # goatee: chin patch around the mouth
        p.draw.ellipse(p.box(0.5, g.mouth_y + 0.06, 0.085, 0.085), fill=fill)
    _moustache(p, g, fill)


def _glasses_lenses(p: _Painter, g: _Geometry, style: int, fill, outline=None) -> None:
    w = p.width(0.028)
    for side in (-1, 1):
        bx = p.box(0.5 + side * g.eye_dx, g.eye_y, 0.085, 0.058)
        if style == 0:
            p.draw.ellipse(bx, fill=fill, outline=outline, width=w)
        else:
            p.draw.rectangle(bx, fill=fill, outline=outline, width=w)


def _glasses_frame(p: _Painter, g: _Geometry, style: int, color) -> None:
    _glasses_lenses(p, g, style, None, color)
    w = p.width(0.024)
    y = g.eye_y - 0.012
    p.draw.line([p.pt(0.5 - g.eye_dx + 0.08, y), p.pt(0.5 + g.eye_dx - 0.08, y)], fill=color, width=w)
    for side in (-1, 1):
        p.draw.line(
            [p.pt(0.5 + side * (g.eye_dx + 0.08), y), p.pt(0.5 + side * g.fw, y - 0.01)],
            fill=color,
            width=w,
        )


def _hair_back(p: _Painter, g: _Geometry, style: int, color) -> None:
    """Long hair behind the head (women); ``style`` 1 is a chin-length bob."""
    bottom = 0.5 + 0.55 * g.fh if style == 1 else 0.5 + g.fh + 0.2
    spread = 0.05 if style == 1 else 0.08  # long hair falls over the shoulders
    x0, y0 = p.pt(0.5 - g.fw - spread, 0.5 - g.fh - 0.05)
    x1, y1 = p.pt(0.5 + g.fw + spread, bottom)
    p.rounded_rect([x0, y0, x1, y1], (g.fw + 0.05) * p.s * 0.9, color)


def _hair_top(p: _Painter, g: _Geometry, style: int, color, skin) -> None:
    """Hair over the forehead: a half-ellipse cap above the hairline."""
    if g.male:
        hairline = 0.5 - (0.62 if style == 2 else 0.5) * g.fh
        height = 0.05 + 0.5 * g.fh if style != 2 else 0.03 + 0.38 * g.fh
        rx = g.fw + 0.015
        if style == 2:  # buzz cut: short hair, half the colour shows skin through
            color = tuple((c + s) // 2 for c, s in zip(color, skin, strict=True))
        p.draw.chord(p.box(0.5, hairline, rx, height), 180, 360, fill=color)
        if style == 1:  # quiff: extra volume over one side
            p.draw.ellipse(p.box(0.5 - 0.35 * g.fw, 0.5 - g.fh - 0.01, 0.6 * g.fw, 0.07), fill=color)
        side_w = 0.035
        for side in (-1, 1):  # sideburns
            x = 0.5 + side * (g.fw - side_w / 2 - 0.005)
            x0, y0 = p.pt(x - side_w / 2, hairline - 0.01)
            x1, y1 = p.pt(x + side_w / 2, g.eye_y + 0.02)
            p.draw.rectangle([x0, y0, x1, y1], fill=color)
    else:
        hairline = 0.5 - (0.28 if style == 2 else 0.5) * g.fh
        p.draw.chord(
            p.box(0.5, hairline, g.fw + 0.04, 0.07 + (0.72 if style == 2 else 0.5) * g.fh),
            180,
            360,
            fill=color,
        )


def _eyes_and_brows(p: _Painter, g: _Geometry, brow_color, eye_color) -> None:
    for side in (-1, 1):
        x = 0.5 + side * g.eye_dx
        p.draw.ellipse(p.box(x, g.eye_y, 0.05, 0.028), fill=(245, 245, 245))
        p.draw.ellipse(p.box(x, g.eye_y, 0.024, 0.024), fill=eye_color)
        p.draw.ellipse(p.box(x, g.eye_y, 0.011, 0.011), fill=(12, 12, 12))
        if g.male:  # heavy, straight brows
            pts = [(x - 0.065 * side, g.brow_y + 0.008), (x + 0.06 * side, g.brow_y - 0.004)]
            p.draw.line([p.pt(*q) for q in pts], fill=brow_color, width=p.width(0.03))
        else:  # thin, arched brows
            p.draw.arc(
                p.box(x, g.brow_y + 0.02, 0.058, 0.03),
                200,
                340,
                fill=brow_color,
                width=p.width(0.014),
            )


def _mouth(p: _Painter, g: _Geometry, smiling: bool, lips) -> None:
    if smiling:  # open "D" smile with a row of teeth
        p.draw.chord(p.box(0.5, g.mouth_y - 0.01, 0.088, 0.06), 0, 180, fill=(110, 24, 36))
        x0, y0 = p.pt(0.5 - 0.062, g.mouth_y - 0.01)
        x1, y1 = p.pt(0.5 + 0.062, g.mouth_y + 0.012)
        p.draw.rectangle([x0, y0, x1, y1], fill=(250, 250, 246))
    else:  # closed lips, corners slightly down
        pts = [(0.5 - 0.06, g.mouth_y + 0.012), (0.5, g.mouth_y), (0.5 + 0.06, g.mouth_y + 0.012)]
        p.draw.line([p.pt(*q) for q in pts], fill=lips, width=p.width(0.022), joint="curve")


@lru_cache(maxsize=256)
def _shading(size: int, level: float) -> Image.Image:
    """Horizontal light falloff (RGB multiply image), cached per size and light level."""
    x = (np.arange(size, dtype=np.float32) + 0.5) / size
    row = 1.0 - LIGHT_DEPTH * np.abs(x - level)
    col = np.clip(np.round(row * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(np.repeat(np.tile(col, (size, 1))[:, :, None], 3, axis=2), "RGB")


def _paint(img: Image.Image, canvas: int, attributes: Mapping, nuisance: Mapping) -> None:
    g = _Geometry.of(attributes, nuisance)
    p = _Painter(ImageDraw.Draw(img), canvas, nuisance)
    skin = _skin(nuisance["skin_tone"])
    shadow = _mix(skin, (40, 20, 10), 0.3)
    hair = HAIR_COLORS[nuisance["hair_color"]]
    style = nuisance["hair_style"]
    # Torso and neck.
    p.draw.ellipse(p.box(0.5, 1.1, 0.42, 0.22), fill=CLOTHING[nuisance["clothing"]])
    x0, y0 = p.pt(0.5 - 0.45 * g.fw, 0.6)
    x1, y1 = p.pt(0.5 + 0.45 * g.fw, 0.92)
    p.draw.rectangle([x0, y0, x1, y1], fill=shadow)
    if not g.male:
        _hair_back(p, g, style, hair)
    for side in (-1, 1):  # ears
        p.draw.ellipse(p.box(0.5 + side * g.fw, g.eye_y + 0.02, 0.04, 0.065), fill=shadow)
    p.draw.ellipse(p.box(0.5, 0.5, g.fw, g.fh), fill=skin)
    if g.male:
        _lower_face(p, g, 0.5, skin)
    glasses_style = nuisance["glasses_style"]
    if attributes["eyeglasses"]:  # tinted lenses under the eyes, frames over them
        _glasses_lenses(p, g, glasses_style, _mix(skin, (175, 210, 245), 0.45))
    _eyes_and_brows(p, g, _mix(hair, (0, 0, 0), 0.35), EYE_COLORS[nuisance["eye_color"]])
    x0, y0 = p.pt(0.5 - 0.008, g.eye_y + 0.03)
    x1, y1 = p.pt(0.5 + 0.008, 0.5 + 0.28 * g.fh)
    p.draw.rectangle([x0, y0, x1, y1], fill=shadow)  # nose bridge
    p.draw.ellipse(p.box(0.5, 0.5 + 0.3 * g.fh, 0.028, 0.016), fill=shadow)  # nose tip
    _hair_top(p, g, style, hair, skin)
    if attributes["facial_hair"]:
        _facial_hair(p, g, nuisance["beard_style"], _beard_color(hair, skin))
    _mouth(p, g, bool(attributes["smiling"]), _mix(skin, (150, 40, 50), 0.6))
    if attributes["eyeglasses"]:
        _glasses_frame(p, g, glasses_style, (18, 18, 24))


def _masks(size: int, ss: int, attributes: Mapping, nuisance: Mapping) -> dict[str, np.ndarray]:
    """Footprints of the largest form of each attribute, drawn with the image's own shapes."""
    canvas = size * ss
    g = _Geometry.of(attributes, nuisance)
    out = {}
    for name in MASK_NAMES:
        layer = Image.new("L", (canvas, canvas), 0)
        p = _Painter(ImageDraw.Draw(layer), canvas, nuisance)
        if name == "eyeglasses":
            _glasses_lenses(p, g, nuisance["glasses_style"], 255)
            _glasses_frame(p, g, nuisance["glasses_style"], 255)
        else:
            for style in range(3):
                _facial_hair(p, g, style, 255)
        small = layer.reduce(ss) if ss > 1 else layer
        out[name] = np.frombuffer(small.tobytes(), np.uint8).reshape(size, size) > 0
    return out


def render_face(
    seed: int,
    index: int,
    size: int,
    *,
    overrides: Mapping[str, float | int] | None = None,
    with_masks: bool = True,
    supersample: int = DEFAULT_SUPERSAMPLE,
) -> SynthFace:
    """Render face ``index`` of the ``seed`` universe as a ``size x size`` RGB image.

    ``overrides`` replaces drawn attributes or nuisance factors (e.g. ``{"eyeglasses": 1}``)
    after the random draw, so the rest of the face is unchanged: counterfactual pairs.
    """
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    attributes, nuisance = sample_truth(seed, index)
    if overrides:
        apply_overrides(attributes, nuisance, overrides)
    canvas = size * supersample
    img = Image.new("RGB", (canvas, canvas), BACKGROUNDS[nuisance["background"]])
    _paint(img, canvas, attributes, nuisance)
    if supersample > 1:
        img = img.reduce(supersample)
    img = ImageChops.multiply(img, _shading(size, nuisance["light_direction"]))
    masks = _masks(size, supersample, attributes, nuisance) if with_masks else {}
    return SynthFace(image=img, attributes=attributes, nuisance=nuisance, masks=masks)
