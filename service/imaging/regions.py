"""Where on an aligned face an attribute can appear, in the model's input (pure numpy).

The decoder never redraws a face exactly: ``D(z_aug) - D(z)`` is the edit plus drift, and on
photos (far from a drawn-faces model's training data) the drift reaches the whole face. The
change mask of :mod:`service.imaging.paste` keeps only large changes, but a model that paints
glasses as a band across the face would still repaint half of it. So a paste-back is also
confined to the part of the face the attribute lives on: eyeglasses around the eyes, facial
hair on the lower face, a smile at the mouth.

Regions are ellipses in the face's own frame, measured from the template's eye centres:
origin halfway between the eyes, ``x`` along the eye line (left eye to right eye), ``y``
perpendicular to it (down the face), unit = the distance between the eyes. The same numbers
then fit any template and any input size. They were set from the synthfaces renderer
(lens boxes 0.47 x 0.32 eye distances around each eye, mouth 0.84 below the eyes, beard from
0.5 to 1.45 below them) and CelebA's aligned landmarks (mouth corners about 1.05 eye
distances below the eyes), and cover both.

Names are matched lower-case; CelebA's own attribute names are included. An attribute with
no region here (``male``, or a name a user's model invented) limits nothing: the change mask
over the whole face box applies, as before regions existed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Ellipse:
    """An axis-aligned ellipse in the face frame (eye distances; see the module docstring)."""

    centre: tuple[float, float]
    radii: tuple[float, float]


_GLASSES = (
    Ellipse((-0.5, 0.0), (0.47, 0.32)),  # left lens and rim
    Ellipse((0.5, 0.0), (0.47, 0.32)),  # right lens and rim
    Ellipse((0.0, -0.05), (0.22, 0.12)),  # bridge
)
_LOWER_FACE = (Ellipse((0.0, 1.02), (1.1, 0.62)),)  # beard, moustache, goatee, sideburn ends
_MOUTH = (Ellipse((0.0, 0.95), (0.62, 0.34)),)

REGIONS: dict[str, tuple[Ellipse, ...]] = {
    "eyeglasses": _GLASSES,
    "facial_hair": _LOWER_FACE,
    "beard": _LOWER_FACE,
    "no_beard": _LOWER_FACE,
    "mustache": _LOWER_FACE,
    "goatee": _LOWER_FACE,
    "smiling": _MOUTH,
    "mouth_slightly_open": _MOUTH,
    "wearing_lipstick": _MOUTH,
}

EDGE = 0.1  # the mask ramps from 1 to 0 between 1 - EDGE and 1 + EDGE of an ellipse's radius


def region_of(names: Iterable[str]) -> tuple[Ellipse, ...] | None:
    """The union of the named attributes' regions; None when any of them has none (no limit)."""
    ellipses: list[Ellipse] = []
    for name in names:
        region = REGIONS.get(name.lower())
        if region is None:
            return None
        ellipses.extend(region)
    return tuple(ellipses) or None


def region_mask(
    ellipses: tuple[Ellipse, ...], *, left_eye: tuple[float, float], right_eye: tuple[float, float], size: int
) -> np.ndarray:
    """Float32 ``(size, size)`` in [0, 1]: 1 inside the ellipses, a soft edge, 0 outside.

    ``left_eye`` / ``right_eye`` are the template's eye centres as fractions of the side.
    """
    left, right = np.asarray(left_eye, float) * size, np.asarray(right_eye, float) * size
    origin, axis = (left + right) / 2, right - left
    unit = float(np.hypot(*axis))
    if unit <= 0:
        raise ValueError("the template's eyes coincide")
    along, across = axis / unit, np.array([-axis[1], axis[0]]) / unit  # across points down the face
    centres = np.arange(size) + 0.5
    xs, ys = np.meshgrid(centres, centres)
    offset_x, offset_y = xs - origin[0], ys - origin[1]
    u = (offset_x * along[0] + offset_y * along[1]) / unit
    v = (offset_x * across[0] + offset_y * across[1]) / unit
    mask = np.zeros((size, size), np.float32)
    for ellipse in ellipses:
        (cu, cv), (ru, rv) = ellipse.centre, ellipse.radii
        distance = np.hypot((u - cu) / ru, (v - cv) / rv)
        mask = np.maximum(mask, np.clip((1 + EDGE - distance) / (2 * EDGE), 0.0, 1.0).astype(np.float32))
    return mask
