"""The oracle: a small CNN that reads synthfaces' ground truth back from pixels.

Why an oracle: the model's own linear classifier cannot judge its own edits (an edit
moves ``z`` along ``w_k`` precisely so that the classifier says yes). The oracle is a
separate network trained only on rendered faces and their true factors, so when it says
"this edit has glasses" it is an independent judge. It has one head per binary attribute
(BCE), per categorical nuisance factor (CE) and one for all continuous nuisance factors
(MSE), plus a penultimate feature vector used for the Fréchet distance (our stand-in
for FID, since Inception weights cannot be downloaded here).

The checkpoint is self-describing: architecture, attribute and nuisance names, image
size and held-out metrics travel with the weights, so :func:`load_oracle` needs no
outside config. Training lives in :mod:`training.evaluation.oracle.train`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ORACLE_FORMAT = 1
ORACLE_KIND = "synthfaces-oracle"

# Some nuisance factors are drawn for every face but only visible when an attribute is
# present (the renderer draws a glasses style even for faces without glasses). Their
# loss and accuracy only count those faces, and edit preservation ignores them.
VISIBLE_WHEN: dict[str, str] = {"glasses_style": "eyeglasses", "beard_style": "facial_hair"}


class OracleError(ValueError):
    """A missing, unreadable or incompatible oracle checkpoint (a user-fixable problem)."""


def default_layers(image_size: int) -> list[tuple[int, int, int]]:
    """``(out_channels, kernel, stride)`` per conv layer, ending at a 4x4 (or larger) grid.

    A 4x4 stride-4 "patchify" stem first (cheap on a CPU: the full-resolution layer is
    what dominates training time), then 3x3 layers alternating stride 1 and 2.
    64 -> 16x16 -> 8x8 -> 4x4; 16 -> 4x4 (stem only, plus stride-1 layers).
    """
    layers = [(32, 4, 4)] if image_size >= 16 else [(32, 3, 1)]
    side = image_size // 4 if image_size >= 16 else image_size
    layers.append((64, 3, 1))
    widths = iter((64, 64, 64))
    while side > 4:
        layers.append((next(widths, 64), 3, 2))
        side //= 2
        if side > 4:
            layers.append((128, 3, 1))
    return layers


class OracleNet(nn.Module):
    """Conv + BatchNorm + ReLU layers, 4x4 pooling, a linear feature layer, heads.

    The 4x4 grid before the feature layer keeps *where* things are (shift, light
    direction), which a global average would throw away.
    """

    def __init__(
        self,
        attributes: Sequence[str],
        nuisance: Mapping[str, Sequence[Any]],
        layers: Sequence[Sequence[int]] = ((32, 4, 4), (64, 3, 1), (64, 3, 2), (128, 3, 1), (64, 3, 2)),
        feature_dim: int = 128,
    ) -> None:
        super().__init__()
        self.attributes = tuple(attributes)
        self.categorical = tuple(n for n, (kind, _) in nuisance.items() if kind == "categorical")
        self.continuous = tuple(n for n, (kind, _) in nuisance.items() if kind == "continuous")
        mods: list[nn.Module] = []
        c_in = 3
        self.layers = [tuple(int(v) for v in spec) for spec in layers]
        for c, k, stride in self.layers:
            pad = (k - 1) // 2 if stride == 1 or k == 3 else 0  # a k = stride stem tiles the image
            mods += [
                nn.Conv2d(c_in, c, k, stride=stride, padding=pad, bias=False),
                nn.BatchNorm2d(c),
                nn.ReLU(inplace=True),
            ]
            c_in = c
        self.body = nn.Sequential(*mods, nn.AdaptiveAvgPool2d(4), nn.Flatten())
        self.features = nn.Sequential(nn.Linear(c_in * 16, feature_dim), nn.ReLU(inplace=True))
        self.attribute_head = nn.Linear(feature_dim, len(self.attributes))
        self.categorical_heads = nn.ModuleDict(
            {n: nn.Linear(feature_dim, int(nuisance[n][1])) for n in self.categorical}
        )
        self.continuous_head = nn.Linear(feature_dim, len(self.continuous)) if self.continuous else None

    def forward(self, x: torch.Tensor) -> dict[str, Any]:
        """Images in [0, 1] -> features, attribute logits, categorical logits, continuous values."""
        f = self.features(self.body(x * 2.0 - 1.0))
        return {
            "features": f,
            "attributes": self.attribute_head(f),
            "categorical": {n: head(f) for n, head in self.categorical_heads.items()},
            "continuous": self.continuous_head(f) if self.continuous_head is not None else f[:, :0],
        }


@dataclass
class OraclePrediction:
    """The oracle's reading of a batch of images, as numpy arrays of length N."""

    probabilities: dict[str, np.ndarray]  # binary attribute -> P(present)
    nuisance: dict[str, np.ndarray]  # categorical -> int class, continuous -> float
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (N, F)

    @property
    def labels(self) -> dict[str, np.ndarray]:
        """Binary attribute -> bool decision (P > 0.5)."""
        return {name: p > 0.5 for name, p in self.probabilities.items()}


class Oracle:
    """A trained :class:`OracleNet` with its description; predicts on numpy or torch batches."""

    def __init__(
        self,
        net: OracleNet,
        image_size: int,
        nuisance: Mapping[str, Sequence[Any]],
        metrics: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.net = net.eval()
        self.image_size = int(image_size)
        self.nuisance_spec = {n: (str(k), None if c is None else int(c)) for n, (k, c) in nuisance.items()}
        self.metrics = dict(metrics or {})
        self.config = dict(config or {})

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.net.attributes

    @property
    def feature_dim(self) -> int:
        return int(self.net.attribute_head.in_features)

    def _check(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images, dtype=np.float32)) if not isinstance(images, torch.Tensor) else images
        s = self.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, s, s):
            raise OracleError(f"the oracle reads images of shape (N, 3, {s}, {s}), got {tuple(x.shape)}")
        return x.float()

    @torch.inference_mode()
    def predict(self, images: np.ndarray | torch.Tensor, batch_size: int = 256) -> OraclePrediction:
        """Read attributes, nuisance factors and features of (N, 3, S, S) images in [0, 1]."""
        x = self._check(images)
        self.net.eval()  # BatchNorm must use its running statistics, never the batch's
        parts: list[dict[str, Any]] = [self.net(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        if not parts:
            parts = [self.net(x)]
        logits = torch.cat([p["attributes"] for p in parts]).double()
        probs = torch.sigmoid(logits).numpy()
        nuisance: dict[str, np.ndarray] = {}
        for name in self.net.categorical:
            nuisance[name] = torch.cat([p["categorical"][name] for p in parts]).argmax(1).numpy()
        cont = torch.cat([p["continuous"] for p in parts]).numpy()
        for j, name in enumerate(self.net.continuous):
            nuisance[name] = cont[:, j].astype(np.float64)
        return OraclePrediction(
            probabilities={n: probs[:, k] for k, n in enumerate(self.attributes)},
            nuisance=nuisance,
            features=torch.cat([p["features"] for p in parts]).numpy().astype(np.float64),
        )

    def features(self, images: np.ndarray | torch.Tensor, batch_size: int = 256) -> np.ndarray:
        """(N, F) penultimate features, the space of the Fréchet distance."""
        return self.predict(images, batch_size).features


def save_oracle(path: Path, oracle: Oracle) -> Path:
    """Write a self-describing checkpoint (atomic: ``.tmp`` then replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = oracle.net
    payload = {
        "format": ORACLE_FORMAT,
        "kind": ORACLE_KIND,
        "image_size": oracle.image_size,
        "architecture": {
            "layers": [list(spec) for spec in net.layers],
            "feature_dim": oracle.feature_dim,
        },
        "attributes": list(net.attributes),
        "nuisance": {n: [k, c] for n, (k, c) in oracle.nuisance_spec.items()},
        "visible_when": dict(VISIBLE_WHEN),
        "metrics": oracle.metrics,
        "config": oracle.config,
        "state_dict": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_oracle(path: Path) -> Oracle:
    """Load a checkpoint written by :func:`save_oracle`; :class:`OracleError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise OracleError(f"oracle checkpoint {path} does not exist (train one with `python -m training oracle`)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors of a corrupt or foreign file
        raise OracleError(f"oracle checkpoint {path} could not be read: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != ORACLE_KIND:
        raise OracleError(f"{path} is not a synthfaces oracle checkpoint")
    if payload.get("format") != ORACLE_FORMAT:
        raise OracleError(f"{path} has oracle format {payload.get('format')!r}; this code reads {ORACLE_FORMAT}")
    nuisance = {n: (k, c) for n, (k, c) in payload["nuisance"].items()}
    arch = payload["architecture"]
    net = OracleNet(payload["attributes"], nuisance, arch["layers"], arch["feature_dim"])
    try:
        net.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise OracleError(f"{path}: weights do not match the recorded architecture: {exc}") from exc
    return Oracle(net, payload["image_size"], nuisance, payload.get("metrics"), payload.get("config"))
