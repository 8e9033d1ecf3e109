"""Optional real FID with torchvision's Inception-v3, from weights already on local disk.

Tested end to end (tests/training/evaluation/test_inception.py) with a randomly
initialised Inception-v3 state dict of the same architecture, because the real ImageNet
weights cannot be downloaded here; the path itself is deliberately simple:
build ``inception_v3(weights=None, aux_logits=True, init_weights=False)``, load the
state dict given by the user, replace ``fc`` by the identity (2048-d pool features, as
FID uses), feed ImageNet-normalised images resized to 299x299 with
``transform_input=True`` (how torchvision runs its pretrained Inception), and take the
Fréchet distance of the features. torchvision's ImageNet weights are not the TF-FID
weights of the paper, so values are close to, not identical with, published FIDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from training.evaluation.fidelity import frechet_from_features

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def load_inception(weights_path: Path, device: str = "cpu") -> torch.nn.Module:
    from torchvision.models import inception_v3

    if not Path(weights_path).is_file():
        raise FileNotFoundError(f"Inception weights {weights_path} do not exist")
    net = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=True)
    state = torch.load(weights_path, map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    net.fc = torch.nn.Identity()
    return net.eval().to(device)


@torch.inference_mode()
def inception_features(net: torch.nn.Module, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """(N, 2048) pool features of (N, 3, S, S) images in [0, 1]."""
    device = next(net.parameters()).device
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    feats = []
    for i in range(0, images.shape[0], batch_size):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + batch_size], dtype=np.float32)).to(device)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        feats.append(net((x - mean) / std).double().cpu().numpy())
    return np.concatenate(feats)


def inception_fid(
    weights_path: Path, real: np.ndarray, recon: np.ndarray, prior: np.ndarray, *, batch_size: int = 32
) -> dict[str, Any]:
    """FID of reconstructions and of prior samples against the real images."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    net = load_inception(weights_path, device)
    real_f = inception_features(net, real, batch_size)
    return {
        "note": "torchvision Inception-v3 (ImageNet weights) from local disk, not the TF-FID weights",
        "weights": str(weights_path),
        "real_vs_reconstruction": frechet_from_features(real_f, inception_features(net, recon, batch_size)),
        "real_vs_prior_samples": frechet_from_features(real_f, inception_features(net, prior, batch_size)),
    }
