"""Face datasets behind one contract (``base.py``): synthfaces (procedural) and CelebA."""

from training.data.base import SPLITS, VALUE_RANGE, DatasetError, FaceDataset
from training.data.celeba import CelebA
from training.data.factory import build_dataset
from training.data.synthfaces.dataset import (
    SYNTH_ATTRIBUTES,
    SynthFace,
    SynthFaces,
    render_face,
)

__all__ = [
    "SPLITS",
    "SYNTH_ATTRIBUTES",
    "VALUE_RANGE",
    "CelebA",
    "DatasetError",
    "FaceDataset",
    "SynthFace",
    "SynthFaces",
    "build_dataset",
    "render_face",
]
