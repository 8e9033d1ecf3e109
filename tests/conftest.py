"""Session-wide fixtures shared by the whole suite.

Exported tiny models (built by ``tests/support/tiny_model.py``, exported once per test session
through the real exporter, ``training.export.export_model``, parity-checked):

``tiny_models_root`` -> Path
    A models directory (what the service's settings point at) holding two models:

    * ``tiny``:  seed 0, attributes ``("eyeglasses", "facial_hair")``
    * ``tiny2``: seed 1, attributes ``("eyeglasses", "facial_hair", "male")``

    Both: 16x16 RGB images in [0, 1], latent_dim 8, ``encoder.onnx``, ``decoder.onnx``,
    ``model.ts`` and ``manifest.json`` (recommended deltas: eyeglasses 3, facial_hair 4,
    male 3); ``tiny`` also has a fitted latent prior (``latent_prior-<sha256 prefix>.npz``,
    from 64 synthfaces training images; ``tiny2`` has none). The torch model behind each is ``tests.support.tiny_model.build_tiny_model(seed=...,
    attributes=...)`` with the same arguments, so tests can compute reference outputs.

``tiny_model_dir`` -> Path
    ``tiny_models_root / "tiny"``: the folder that contains ``manifest.json``.

Treat both as READ-ONLY: they are shared by every test in the session. A test that
corrupts, deletes or adds files must work on a copy (``shutil.copytree(src, tmp_path /
"models")``) or export its own with ``tests.support.tiny_model.export_tiny_model(tmp_path)``.

torch is imported inside the fixtures, not here, so tests that never use them (the
pure-numpy service tests) do not pay for importing it.

Threads: ``OMP_NUM_THREADS`` defaults to 1 for the test session (set it to override).
The suite's tensors are tiny, so intra-op threads only add synchronisation; on a busy
2-core machine, torch with 2 threads spent ~5x the CPU time of 1 thread on an export
(measured: 1.2 s vs 0.22 s CPU). It must be set before torch is first imported.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_MODELS = {
    "tiny": {"seed": 0, "attributes": ("eyeglasses", "facial_hair")},
    "tiny2": {"seed": 1, "attributes": ("eyeglasses", "facial_hair", "male")},
}
TINY_PRIOR_IMAGES = {"tiny": 64}  # models that get a fitted latent prior, and from how many images


@pytest.fixture(scope="session")
def tiny_models_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory with the exported ``tiny`` and ``tiny2`` models (read-only)."""
    from tests.support.tiny_model import export_tiny_model  # lazy: imports torch
    from training.export.prior import fit_model_prior

    root = tmp_path_factory.mktemp("models")
    for name, kwargs in TINY_MODELS.items():
        folder = export_tiny_model(root, name, **kwargs)
        if name in TINY_PRIOR_IMAGES:
            fit_model_prior(folder, TINY_PRIOR_IMAGES[name], dataset="synthfaces", batch_size=32, progress=False)
    return root


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_models_root: Path) -> Path:
    """The exported ``tiny`` model folder (contains ``manifest.json``; read-only)."""
    return tiny_models_root / "tiny"
