"""CelebA (aligned and cropped release) from a local folder, plus the paper's subsets.

Expected layout (the official files, as distributed)::

    <root>/img_align_celeba/000001.jpg ...   178 x 218 JPEGs
    <root>/list_attr_celeba.txt              line 1: count; line 2: 40 names; then
                                             "<file> v1 ... v40" with 1 / -1
    <root>/list_eval_partition.txt           "<file> 0|1|2" = train / val / test

``<root>/celeba/`` (torchvision's layout) is accepted too. The files are parsed here
in plain Python because torchvision's ``CelebA`` insists on the MD5s of the real
release, and the tests must run on a tiny fake folder.

Attributes are the official names, case-insensitive (``Eyeglasses``, ``eyeglasses``),
plus the paper's derived ``facial_hair`` = (not No_Beard) or Goatee or Mustache.
Subsets (IntroVAC Sec. 4): ``eye`` (Eyeglasses), ``facial`` (facial_hair) and
``eyefacial`` (both), each balanced inside its split by a seeded random draw (see
``balanced_rows``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import functional as F

from training.data.base import DatasetError, check_index, check_split

IMAGE_DIR = "img_align_celeba"
ATTR_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
PARTITION_IDS = {"train": 0, "val": 1, "test": 2}
FACIAL_HAIR = "facial_hair"
SUBSETS: dict[str, tuple[str, ...]] = {
    "eye": ("eyeglasses",),
    "facial": (FACIAL_HAIR,),
    "eyefacial": ("eyeglasses", FACIAL_HAIR),
}
# Official crop: a centred 148-pixel square of the 178-pixel-wide aligned image keeps the
# face and drops most background; stated as a fraction so smaller test images work too.
CROP_FRACTION = 148 / 178


@dataclass(frozen=True)
class CelebATable:
    """The parsed text files: one row per image, in file order."""

    filenames: tuple[str, ...]
    attribute_names: tuple[str, ...]  # official spelling, file order
    values: np.ndarray  # int8 (N, 40) of 0/1
    partitions: np.ndarray  # int8 (N,) of 0/1/2

    def column(self, name: str) -> np.ndarray:
        """0/1 column of an attribute name (already resolved to lower case)."""
        if name == FACIAL_HAIR:
            col = self.column
            return ((1 - col("no_beard")) | col("goatee") | col("mustache")).astype(np.int8)
        lower = [a.lower() for a in self.attribute_names]
        return self.values[:, lower.index(name)]


def find_root(root: str | Path) -> Path:
    """The folder holding the three CelebA entries (``root`` or ``root/celeba``)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"CelebA folder {str(root)!r} does not exist")
    if not (root / ATTR_FILE).exists() and (root / "celeba" / ATTR_FILE).exists():
        root = root / "celeba"
    for name in (ATTR_FILE, PARTITION_FILE, IMAGE_DIR):
        if not (root / name).exists():
            raise DatasetError(
                f"CelebA folder {str(root)!r} is incomplete: missing {name!r} "
                f"(expected {IMAGE_DIR}/, {ATTR_FILE}, {PARTITION_FILE})"
            )
    return root


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read {str(path)!r}: {exc}") from exc


def parse_attributes(path: Path) -> tuple[tuple[str, ...], list[str], np.ndarray]:
    """``list_attr_celeba.txt`` -> (attribute names, filenames, int8 0/1 values)."""
    lines = _read_lines(path)
    if len(lines) < 2 or not lines[0].strip().isdigit():
        raise DatasetError(f"{path.name}: line 1 must be the image count, line 2 the attribute names")
    count = int(lines[0].strip())
    names = tuple(lines[1].split())
    filenames: list[str] = []
    rows: list[list[int]] = []
    for number, line in enumerate(lines[2:], start=3):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names) + 1 or any(v not in ("1", "-1") for v in fields[1:]):
            raise DatasetError(f"{path.name} line {number}: expected a file name and {len(names)} values of 1/-1")
        filenames.append(fields[0])
        rows.append([v == "1" for v in fields[1:]])
    if len(rows) != count:
        raise DatasetError(f"{path.name}: line 1 says {count} images but {len(rows)} rows follow")
    return names, filenames, np.array(rows, dtype=np.int8).reshape(len(rows), len(names))


def parse_partitions(path: Path) -> dict[str, int]:
    """``list_eval_partition.txt`` -> {filename: 0 | 1 | 2}."""
    out: dict[str, int] = {}
    for number, line in enumerate(_read_lines(path), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise DatasetError(f"{path.name} line {number}: expected '<file> 0|1|2', got {line!r}")
        out[fields[0]] = int(fields[1])
    return out


def load_table(root: Path) -> CelebATable:
    names, filenames, values = parse_attributes(root / ATTR_FILE)
    partitions = parse_partitions(root / PARTITION_FILE)
    missing = [f for f in filenames if f not in partitions]
    if missing:
        raise DatasetError(f"{PARTITION_FILE} has no split for {len(missing)} images, e.g. {missing[0]!r}")
    parts = np.array([partitions[f] for f in filenames], dtype=np.int8)
    return CelebATable(tuple(filenames), names, values, parts)


def resolve_attributes(attributes: Iterable[str], official: Iterable[str]) -> tuple[str, ...]:
    """Lower-case names, checked against the official ones plus ``facial_hair``."""
    if isinstance(attributes, str):  # one name, not its letters
        attributes = (attributes,)
    valid = [a.lower() for a in official]
    if {"no_beard", "goatee", "mustache"} <= set(valid):
        valid.append(FACIAL_HAIR)
    names = tuple(str(a).strip().lower() for a in attributes)
    if not names:
        raise DatasetError("at least one attribute is required")
    for name in names:
        if name not in valid:
            raise DatasetError(f"unknown CelebA attribute {name!r}; valid (case-insensitive): {', '.join(valid)}")
    if len(set(names)) != len(names):
        raise DatasetError(f"duplicate attribute names: {list(names)}")
    return names


def balanced_rows(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices making every label column exactly balanced, negatives drawn at random.

    One label: all positives plus as many negatives, drawn without replacement (or all
    negatives and as many positives when positives are the majority). Two labels (the
    paper's EyeFacial): cells (1,1)/(0,0) are paired, and so are (1,0)/(0,1); each pair
    keeps min(count) rows of both cells, so both labels are 50/50. Returned sorted.
    """
    if labels.ndim != 2 or labels.shape[1] not in (1, 2):
        raise DatasetError("balanced subsets are defined for one or two labels")
    if labels.shape[1] == 1:
        cells = [np.flatnonzero(labels[:, 0] == 1), np.flatnonzero(labels[:, 0] == 0)]
        pairs = [(cells[0], cells[1])]
    else:
        cells = {(x, y): np.flatnonzero((labels[:, 0] == x) & (labels[:, 1] == y)) for x in (0, 1) for y in (0, 1)}
        pairs = [(cells[1, 1], cells[0, 0]), (cells[1, 0], cells[0, 1])]
    keep = []
    for first, second in pairs:
        n = min(len(first), len(second))
        for group in (first, second):
            keep.append(group if len(group) == n else rng.choice(group, size=n, replace=False))
    return np.sort(np.concatenate(keep)).astype(np.int64)


class CelebA(torch.utils.data.Dataset):
    """CelebA rows of one split (optionally a balanced paper subset), data contract items.

    Images: centre crop of ``CROP_FRACTION`` of the shorter side (148 px of the 178 x 218
    aligned images), resized with antialiasing to ``image_size``, as ``ToTensor``.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        attributes: Iterable[str] = ("eyeglasses",),
        subset: str | None = None,
        image_size: int = 128,
        seed: int = 0,
    ) -> None:
        check_split(split)
        self.root = find_root(root)
        table = load_table(self.root)
        self.split = split
        self.image_size = int(image_size)
        self.attribute_names = resolve_attributes(attributes, table.attribute_names)
        rows = np.flatnonzero(table.partitions == PARTITION_IDS[split])
        self.subset = None if subset is None else str(subset).lower()
        if self.subset is not None:
            if self.subset not in SUBSETS:
                raise DatasetError(f"unknown CelebA subset {subset!r}; valid subsets: {', '.join(SUBSETS)}")
            subset_labels = np.stack([table.column(a)[rows] for a in SUBSETS[self.subset]], axis=1)
            rng = np.random.default_rng([int(seed), PARTITION_IDS[split]])
            rows = rows[balanced_rows(subset_labels, rng)]
        if len(rows) == 0:
            raise DatasetError(f"CelebA split {split!r} (subset {self.subset}) has no images in {self.root}")
        self.rows = rows
        self.filenames = [table.filenames[i] for i in rows]
        labels = np.stack([table.column(a)[rows] for a in self.attribute_names], axis=1)
        self.labels = torch.from_numpy(labels.astype(np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    def load_image(self, index: int) -> Image.Image:
        path = self.root / IMAGE_DIR / self.filenames[check_index(index, len(self))]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError) as exc:
            raise DatasetError(f"cannot read CelebA image {str(path)!r}: {exc}") from exc

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = self.load_image(index)
        side = max(1, round(min(img.size) * CROP_FRACTION))
        img = F.center_crop(img, [side, side])
        img = F.resize(img, [self.image_size, self.image_size], antialias=True)
        return F.to_tensor(img), self.labels[index].clone()

    def __repr__(self) -> str:
        return (
            f"CelebA(root={str(self.root)!r}, split={self.split!r}, subset={self.subset!r}, "
            f"attributes={self.attribute_names}, n={len(self)})"
        )
