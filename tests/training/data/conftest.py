"""A tiny fake CelebA folder in the official text formats (the real one is 1.4 GB)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

OFFICIAL_NAMES = (
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
)
BORDER = (0, 0, 255)  # pure blue frame that the face crop must remove


@dataclass
class FakeCelebA:
    root: Path
    filenames: list[str]
    values: np.ndarray  # (N, 40) of 1 / -1, file order
    partitions: np.ndarray  # (N,) of 0 / 1 / 2
    centre_colors: list[tuple[int, int, int]]

    def column(self, name: str) -> np.ndarray:
        return (self.values[:, OFFICIAL_NAMES.index(name)] == 1).astype(int)


def write_fake_celeba(root: Path, n_train: int = 40, n_val: int = 10, n_test: int = 10) -> FakeCelebA:
    rng = np.random.default_rng(1234)
    n = n_train + n_val + n_test
    values = rng.choice([-1, 1], size=(n, len(OFFICIAL_NAMES)))
    col = OFFICIAL_NAMES.index
    # Rare eyeglasses (as in CelebA): 6 in train, 2 in val, 2 in test.
    values[:, col("Eyeglasses")] = -1
    for i in (
        3,
        9,
        14,
        20,
        27,
        33,
        n_train + 1,
        n_train + 5,
        n_train + n_val + 2,
        n_train + n_val + 7,
    ):
        values[i, col("Eyeglasses")] = 1
    # Facial hair: beards on some rows, and a goatee / moustache WITHOUT No_Beard=-1 on
    # others, so the derived label really needs the OR of the three columns.
    values[:, col("No_Beard")] = 1
    values[:, col("Goatee")] = -1
    values[:, col("Mustache")] = -1
    for i in (1, 9, 12, 18, 25, 31, 36, n_train + 3, n_train + n_val + 1):
        values[i, col("No_Beard")] = -1
    values[5, col("Goatee")] = 1
    values[22, col("Mustache")] = 1
    values[n_train + 6, col("Mustache")] = 1
    partitions = np.array([0] * n_train + [1] * n_val + [2] * n_test)
    filenames = [f"{i + 1:06d}.jpg" for i in range(n)]
    image_dir = root / "img_align_celeba"
    image_dir.mkdir(parents=True)
    colors = []
    for i, name in enumerate(filenames):
        centre = (40 + 5 * i % 200, 200 - 3 * i % 150, 60)
        img = Image.new("RGB", (36, 44), BORDER)  # 178 x 218 scaled down by ~5
        img.paste(centre, (2, 2, 34, 42))
        img.save(image_dir / name, quality=95)
        colors.append(centre)
    lines = [str(n), " ".join(OFFICIAL_NAMES) + " "]
    lines += [f"{f} " + " ".join(f"{v:2d}" for v in row) for f, row in zip(filenames, values, strict=True)]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{f} {p}\n" for f, p in zip(filenames, partitions, strict=True))
    )
    return FakeCelebA(root, filenames, values, partitions, colors)


@pytest.fixture
def fake_celeba(tmp_path: Path) -> FakeCelebA:
    return write_fake_celeba(tmp_path / "celeba_root")
