"""A labelled PNG grid of synthfaces samples, to eyeball the data before training.

Each tile is a face with a strip underneath spelling its attributes as ``GFMS``
(G = eyeglasses, F = facial_hair, M = male, S = smiling; ``-`` = absent); a header
line repeats this legend.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont
from torchvision.transforms.functional import pil_to_tensor, to_pil_image
from torchvision.utils import make_grid

from training.data.base import DatasetError
from training.data.synthfaces.dataset import SYNTH_ATTRIBUTES, SynthFaces

LETTERS = dict(zip(SYNTH_ATTRIBUTES, "GFMS", strict=True))
LEGEND = "  ".join(f"{letter}={name}" for name, letter in LETTERS.items())


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def label_of(attributes: dict[str, int]) -> str:
    """``{"eyeglasses": 1, "male": 1, ...}`` -> ``"G-M-"``."""
    return "".join(letter if attributes[name] else "-" for name, letter in LETTERS.items())


def _wrap(words: list[str], width: int, font) -> list[str]:
    """Greedy line filling so the legend fits narrow grids."""
    lines = [words[0]]
    for word in words[1:]:
        if font.getlength(f"{lines[-1]}  {word}") <= width:
            lines[-1] += f"  {word}"
        else:
            lines.append(word)
    return lines


def _tile(face: Image.Image, label: str, strip: int, font) -> torch.Tensor:
    tile = Image.new("RGB", (face.width, face.height + strip), (255, 255, 255))
    tile.paste(face, (0, 0))
    ImageDraw.Draw(tile).text((2, face.height), label, fill=(0, 0, 0), font=font)
    return pil_to_tensor(tile)


def render_synthfaces_grid(
    path: str | Path, n: int = 64, image_size: int = 64, seed: int = 0, split: str = "train"
) -> Path:
    """Render the first ``n`` faces of ``split`` as a labelled grid PNG at ``path``."""
    if n < 1:
        raise DatasetError(f"n must be at least 1, got {n}")
    dataset = SynthFaces(split=split, image_size=image_size, length=n, seed=seed)
    strip = max(14, image_size // 5)
    font = _font(strip - 3)
    tiles = []
    for i in range(n):
        face = dataset.render(i)
        tiles.append(_tile(face.image, label_of(face.attributes), strip, font))
    nrow = math.ceil(math.sqrt(n))
    grid = to_pil_image(make_grid(torch.stack(tiles), nrow=nrow, padding=2, pad_value=255))
    legend_font = _font(11)
    lines = _wrap(LEGEND.split("  "), grid.width - 4, legend_font)
    width = max(grid.width, 4 + max(round(legend_font.getlength(line)) for line in lines))
    header = 13 * len(lines) + 2
    out = Image.new("RGB", (width, grid.height + header), (255, 255, 255))
    out.paste(grid, (0, header))
    ImageDraw.Draw(out).multiline_text((2, 1), "\n".join(lines), fill=(0, 0, 0), font=legend_font, spacing=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path, format="PNG")
    return path
