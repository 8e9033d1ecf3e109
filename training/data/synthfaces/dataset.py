"""``synthfaces``: the procedural face dataset as a torch ``Dataset`` (data contract).

Faces are rendered on the fly by ``render.render_face`` (a few thousand per
second per core), so the dataset needs no files. Splits are fixed, disjoint ranges of
the face index inside one ``seed`` universe:

    train: indices [0, length)                 length = train size (default 20,000)
    val:   indices [1e9, 1e9 + length)         length default 2,000
    test:  indices [2e9, 2e9 + length)         length default 2,000

so val and test never change when the train size does, and no face is in two splits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from PIL import Image

from training.data.base import DatasetError, check_index, check_split
from training.data.synthfaces.render import DEFAULT_SUPERSAMPLE, SynthFace, render_face
from training.data.synthfaces.truth import (
    MASK_NAMES,
    NUISANCE_SPEC,
    SYNTH_ATTRIBUTES,
    sample_truth,
)

__all__ = [
    "MASK_NAMES",
    "NUISANCE_SPEC",
    "SPLIT_OFFSETS",
    "SPLIT_SIZES",
    "SYNTH_ATTRIBUTES",
    "SynthFace",
    "SynthFaces",
    "render_face",
    "resolve_synth_attributes",
    "sample_truth",
]

SPLIT_SIZE_LIMIT = 1_000_000_000  # a split may never reach into the next one's index range
SPLIT_OFFSETS = {"train": 0, "val": SPLIT_SIZE_LIMIT, "test": 2 * SPLIT_SIZE_LIMIT}
SPLIT_SIZES = {"train": 20_000, "val": 2_000, "test": 2_000}  # defaults when length is None


def resolve_synth_attributes(attributes: Iterable[str]) -> tuple[str, ...]:
    """Validate attribute names (case-insensitive) and return them in snake_case."""
    if isinstance(attributes, str):  # one name, not its letters
        attributes = (attributes,)
    names = tuple(str(a).strip().lower() for a in attributes)
    if not names:
        raise DatasetError(f"at least one attribute is required; valid: {', '.join(SYNTH_ATTRIBUTES)}")
    for name in names:
        if name not in SYNTH_ATTRIBUTES:
            raise DatasetError(
                f"unknown synthfaces attribute {name!r}; valid attributes: {', '.join(SYNTH_ATTRIBUTES)}"
            )
    if len(set(names)) != len(names):
        raise DatasetError(f"duplicate attribute names: {list(names)}")
    return names


def _pixels(image: Image.Image) -> np.ndarray:
    """RGB image -> uint8 (S, S, 3) array (``tobytes`` is the cheapest way out of Pillow)."""
    return np.frombuffer(image.tobytes(), np.uint8).reshape(image.height, image.width, 3)


def _to_float_image(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (S, S, 3) -> float32 (3, S, S) in [0, 1], bit-identical to torchvision ``ToTensor``.

    Done in numpy because four small torch ops cost more than the rest of an item.
    """
    out = np.empty((3, *pixels.shape[:2]), np.float32)
    np.divide(pixels.transpose(2, 0, 1), np.float32(255.0), out=out)
    return torch.from_numpy(out)


class SynthFaces(torch.utils.data.Dataset):
    """Map-style dataset of rendered faces: ``(image, labels)`` or ``(image, labels, targets)``.

    ``targets`` (with ``return_targets=True``) holds the whole ground truth for the
    evaluation and oracle code: ``{"index": global face index, "attributes": {name: 0/1}
    for all SYNTH_ATTRIBUTES, "nuisance": {name: float|int} (see NUISANCE_SPEC),
    "masks": {name: bool tensor (S, S)} (see MASK_NAMES)}``; the default collate turns
    it into batched tensors.

    ``cache=True`` keeps each rendered item (uint8) after its first read, for training
    runs that read every face for many epochs. The cache lives in the process that reads,
    so it helps with ``num_workers=0`` (or persistent workers, one cache each).

    ``decorrelated=True`` draws ``facial_hair`` independently of ``male`` (see
    ``sample_truth``), a training option: evaluation splits keep the correlated draw,
    since leaks through that correlation are what the evaluation measures.
    """

    def __init__(
        self,
        split: str = "train",
        image_size: int = 64,
        attributes: Iterable[str] = SYNTH_ATTRIBUTES,
        length: int | None = None,
        seed: int = 0,
        return_targets: bool = False,
        cache: bool = False,
        supersample: int = DEFAULT_SUPERSAMPLE,
        decorrelated: bool = False,
    ) -> None:
        self.split = check_split(split)
        self.attribute_names = resolve_synth_attributes(attributes)
        if not isinstance(image_size, int) or image_size < 8:
            raise DatasetError(f"image_size must be an int >= 8, got {image_size!r}")
        length = SPLIT_SIZES[split] if length is None else int(length)
        if not 0 < length <= SPLIT_SIZE_LIMIT:
            raise DatasetError(f"length must be in [1, {SPLIT_SIZE_LIMIT}], got {length}")
        if int(seed) < 0:
            raise DatasetError(f"seed must be non-negative, got {seed}")
        self.image_size = image_size
        self.length = length
        self.seed = int(seed)
        self.offset = SPLIT_OFFSETS[split]
        self.return_targets = return_targets
        self.supersample = supersample
        self.decorrelated = bool(decorrelated)
        self._cache: dict[int, tuple[np.ndarray, torch.Tensor, dict | None]] | None = {} if cache else None

    def __len__(self) -> int:
        return self.length

    def face_index(self, index: int) -> int:
        """Global index of item ``index``: the number ``render_face`` is called with."""
        return self.offset + check_index(index, self.length)

    def truth(self, index: int) -> tuple[dict[str, int], dict[str, float | int]]:
        """Attributes and nuisance factors of item ``index`` without rendering it."""
        return sample_truth(self.seed, self.face_index(index), decorrelated=self.decorrelated)

    def render(self, index: int, **overrides: Any) -> SynthFace:
        """The full ``SynthFace`` of item ``index``, optionally with overridden factors."""
        return render_face(
            self.seed,
            self.face_index(index),
            self.image_size,
            overrides={**self._drawn(index), **overrides} or None,
            supersample=self.supersample,
        )

    def _drawn(self, index: int) -> dict[str, int]:
        """Overrides that turn the renderer's correlated draw into this dataset's draw."""
        if not self.decorrelated:
            return {}
        attributes, _ = self.truth(index)
        return {"facial_hair": attributes["facial_hair"]}

    def __getitem__(self, index: int):
        if self._cache is not None and index in self._cache:
            image, labels, targets = self._cache[index]
        else:
            face = render_face(
                self.seed,
                self.face_index(index),
                self.image_size,
                overrides=self._drawn(index) or None,
                with_masks=self.return_targets,
                supersample=self.supersample,
            )
            image = _pixels(face.image)
            labels = torch.from_numpy(np.array([face.attributes[a] for a in self.attribute_names], np.float32))
            targets = self._targets(index, face) if self.return_targets else None
            if self._cache is not None:
                self._cache[index] = (image, labels, targets)
        if targets is not None:
            return _to_float_image(image), labels.clone(), targets
        return _to_float_image(image), labels.clone()

    def _targets(self, index: int, face: SynthFace) -> dict[str, Any]:
        return {
            "index": self.offset + index,
            "attributes": dict(face.attributes),
            "nuisance": dict(face.nuisance),
            "masks": {name: torch.from_numpy(mask.copy()) for name, mask in face.masks.items()},
        }

    def __repr__(self) -> str:
        return (
            f"SynthFaces(split={self.split!r}, image_size={self.image_size}, "
            f"attributes={self.attribute_names}, length={self.length}, seed={self.seed})"
        )
