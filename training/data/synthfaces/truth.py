"""Ground truth of a synthfaces image: attributes, nuisance factors, palettes.

Every face is a pure function of ``(seed, index)``: a ``random.Random`` seeded with both
numbers draws a fixed-length list of uniforms, always in the same order whatever the
attributes are, so overriding one factor leaves all the others unchanged.

Binary attributes: ``eyeglasses``, ``facial_hair``, ``male``, ``smiling``. Nuisance
factors (see ``NUISANCE_SPEC``): continuous ones are floats in [0, 1] (``skin_tone``
light->dark, ``face_width`` narrow->wide, ``shift_x``/``shift_y`` left/up->right/down,
``scale`` small->large, ``light_direction`` light from the left->from the right, on
``LIGHT_LEVELS`` levels); categorical ones are small ints (``hair_color``,
``hair_style``, ``eye_color``, ``background``, ``clothing``, ``glasses_style``,
``beard_style``; the last two are drawn for every face and only visible when the
attribute is present).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

SYNTH_ATTRIBUTES: tuple[str, ...] = ("eyeglasses", "facial_hair", "male", "smiling")

# CelebA-like priors. Facial hair is almost only on men (P(F|M)=0.4, P(F|not M)=0.01),
# the correlation an edit must not leak through. The others are independent.
P_MALE = 0.42
P_FACIAL_HAIR_MALE = 0.40
P_FACIAL_HAIR_FEMALE = 0.01
# Decorrelated draws (a training option, see ``sample_truth``): the same share of faces
# with facial hair, drawn independently of ``male``.
P_FACIAL_HAIR_ANY = P_MALE * P_FACIAL_HAIR_MALE + (1 - P_MALE) * P_FACIAL_HAIR_FEMALE
P_EYEGLASSES = 0.30
P_SMILING = 0.50

SKIN_TONES = ((252, 224, 200), (222, 172, 130), (168, 112, 74), (92, 60, 44))  # t = 0, 1/3, 2/3, 1
HAIR_COLORS = (
    (22, 18, 18),
    (62, 40, 28),
    (112, 74, 44),
    (150, 62, 30),
    (222, 186, 110),
    (168, 168, 172),
)
EYE_COLORS = ((96, 58, 30), (60, 118, 196), (62, 132, 76), (118, 128, 140))
BACKGROUNDS = (
    (214, 214, 214),
    (84, 88, 96),
    (120, 160, 210),
    (76, 150, 148),
    (140, 180, 120),
    (226, 210, 170),
    (222, 160, 180),
    (150, 120, 190),
)
CLOTHING = (
    (40, 60, 120),
    (170, 40, 40),
    (40, 110, 60),
    (235, 235, 235),
    (40, 40, 44),
    (200, 150, 40),
)
LIGHT_LEVELS = 9  # light_direction is quantised so the shading images can be cached
LIGHT_DEPTH = 0.35  # the side away from the light is darkened by up to 35 %

# name -> ("continuous", None) for floats in [0, 1], or ("categorical", number of classes).
NUISANCE_SPEC: dict[str, tuple[str, int | None]] = {
    "skin_tone": ("continuous", None),
    "hair_color": ("categorical", len(HAIR_COLORS)),
    "hair_style": ("categorical", 3),  # male: short / quiff / buzz; female: long / bob / bangs
    "face_width": ("continuous", None),
    "eye_color": ("categorical", len(EYE_COLORS)),
    "background": ("categorical", len(BACKGROUNDS)),
    "clothing": ("categorical", len(CLOTHING)),
    "glasses_style": ("categorical", 2),  # round / square
    "beard_style": ("categorical", 3),  # full beard / goatee / moustache
    "shift_x": ("continuous", None),
    "shift_y": ("continuous", None),
    "scale": ("continuous", None),
    "light_direction": ("continuous", None),
}
MASK_NAMES: tuple[str, ...] = ("eyeglasses", "facial_hair")
MAX_SHIFT = 0.06  # of the image side
SCALE_RANGE = (0.9, 1.1)


def sample_truth(seed: int, index: int, *, decorrelated: bool = False) -> tuple[dict[str, int], dict[str, float | int]]:
    """Draw the attributes and nuisance factors of face ``index`` (cheap; no drawing).

    ``decorrelated=True`` draws ``facial_hair`` with its marginal probability whatever
    ``male`` is, from the same uniform, so every other factor of the face is unchanged. A
    training set drawn so shows the model bearded women and beardless men alike, which
    gives it no reason to tie the two attributes' directions together.
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed and index must be non-negative, got seed={seed}, index={index}")
    u = random.Random((int(seed) << 64) + int(index)).random
    male = u() < P_MALE
    if decorrelated:
        p_hair = P_FACIAL_HAIR_ANY
    else:
        p_hair = P_FACIAL_HAIR_MALE if male else P_FACIAL_HAIR_FEMALE
    attributes = {
        "male": int(male),
        "facial_hair": int(u() < p_hair),
        "eyeglasses": int(u() < P_EYEGLASSES),
        "smiling": int(u() < P_SMILING),
    }
    attributes = {name: attributes[name] for name in SYNTH_ATTRIBUTES}
    beard = u()
    nuisance: dict[str, float | int] = {
        "skin_tone": u(),
        "hair_color": int(u() * len(HAIR_COLORS)),
        "hair_style": int(u() * 3),
        "face_width": u(),
        "eye_color": int(u() * len(EYE_COLORS)),
        "background": int(u() * len(BACKGROUNDS)),
        "clothing": int(u() * len(CLOTHING)),
        "glasses_style": int(u() * 2),
        "beard_style": 0 if beard < 0.5 else (1 if beard < 0.8 else 2),
        "shift_x": u(),
        "shift_y": u(),
        "scale": u(),
        "light_direction": round(u() * (LIGHT_LEVELS - 1)) / (LIGHT_LEVELS - 1),
    }
    return attributes, nuisance


def apply_overrides(attributes: dict, nuisance: dict, overrides: Mapping[str, float | int]) -> None:
    """Replace drawn values in place, checking each name and range."""
    for name, value in overrides.items():
        if name in attributes:
            if value not in (0, 1):
                raise ValueError(f"attribute override {name}={value!r} must be 0 or 1")
            attributes[name] = int(value)
        elif name in NUISANCE_SPEC:
            kind, classes = NUISANCE_SPEC[name]
            if kind == "categorical":
                if int(value) != value or not 0 <= value < classes:  # type: ignore[operator]
                    raise ValueError(f"override {name}={value!r} must be an int in [0, {classes})")
                nuisance[name] = int(value)
            else:
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError(f"override {name}={value!r} must be in [0, 1]")
                nuisance[name] = float(value)
        else:
            valid = ", ".join((*SYNTH_ATTRIBUTES, *NUISANCE_SPEC))
            raise ValueError(f"unknown override {name!r}; valid names: {valid}")
