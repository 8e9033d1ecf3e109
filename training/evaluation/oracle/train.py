"""Train the synthfaces oracle (see :mod:`training.evaluation.oracle.model`) on a CPU in minutes.

The faces are rendered once into memory as uint8 (a few hundred microseconds each
without masks) and the network is small, so a 64x64 oracle trains in a few minutes on
two cores. Half of every batch is blurred and all of it gets a little noise: the images
the oracle will judge are the autoencoder's reconstructions and edits, which are
blurrier than the crisp renders, and an oracle that only saw crisp renders would call
blurry glasses "no glasses" and blame the model for its own brittleness.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur
from tqdm import tqdm

from training.data.synthfaces.dataset import (
    NUISANCE_SPEC,
    SYNTH_ATTRIBUTES,
    SynthFaces,
    render_face,
)
from training.evaluation.oracle.model import (
    VISIBLE_WHEN,
    Oracle,
    OracleError,
    OracleNet,
    default_layers,
    save_oracle,
)
from training.monitor import logs_above_bars

log = logging.getLogger(__name__)

IGNORE = -100  # CE target of an invisible categorical factor
CONTINUOUS_WEIGHT = 5.0  # continuous factors live in [0, 1]: their MSE is small next to CE/BCE
ATTRIBUTE_WEIGHT = 4.0  # the binary attributes are what must reach 99 %: they lead the shared features


def render_split(
    split: str,
    image_size: int,
    length: int,
    *,
    seed: int = 0,
    attributes: Sequence[str] = SYNTH_ATTRIBUTES,
    progress: bool = False,
) -> dict[str, Any]:
    """Render ``length`` faces of ``split`` into memory: uint8 images and all ground truth.

    Returns ``images`` uint8 (N, 3, S, S), ``attributes`` float (N, K), ``categorical``
    long (N, C) (``IGNORE`` where the factor is invisible) and ``continuous`` float (N, M).
    """
    ds = SynthFaces(split, image_size, attributes, length=length, seed=seed)
    cat_names = [n for n, (k, _) in NUISANCE_SPEC.items() if k == "categorical"]
    cont_names = [n for n, (k, _) in NUISANCE_SPEC.items() if k == "continuous"]
    images = np.empty((length, image_size, image_size, 3), dtype=np.uint8)
    attrs = np.empty((length, len(ds.attribute_names)), dtype=np.float32)
    cats = np.empty((length, len(cat_names)), dtype=np.int64)
    conts = np.empty((length, len(cont_names)), dtype=np.float32)
    for i in tqdm(range(length), desc=f"render {split}", disable=not progress, leave=False):
        face = render_face(ds.seed, ds.face_index(i), image_size, with_masks=False, supersample=ds.supersample)
        images[i] = np.asarray(face.image)
        attrs[i] = [face.attributes[a] for a in ds.attribute_names]
        cats[i] = [face.nuisance[n] if face.attributes.get(VISIBLE_WHEN.get(n, ""), 1) else IGNORE for n in cat_names]
        conts[i] = [face.nuisance[n] for n in cont_names]
    return {
        "images": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        "attributes": torch.from_numpy(attrs),
        "categorical": torch.from_numpy(cats),
        "continuous": torch.from_numpy(conts),
        "attribute_names": ds.attribute_names,
        "categorical_names": tuple(cat_names),
        "continuous_names": tuple(cont_names),
    }


def blur_kernel(sigma: float) -> list[int]:
    k = 2 * max(1, round(2 * sigma)) + 1
    return [k, k]


def augment(x: torch.Tensor, generator: torch.Generator, sigma: float | None = None) -> torch.Tensor:
    """Blur the first half of the batch (sigma drawn in [0.3, 1.2] px, scaled up for images
    over 64 px, unless given) and add a little Gaussian noise to all of it."""
    n, s = x.shape[0], x.shape[-1]
    half = n // 2
    if sigma is None:
        sigma = float(0.3 + 0.9 * torch.rand((), generator=generator)) * max(1.0, s / 64)
    if half:
        x = torch.cat([gaussian_blur(x[:half], blur_kernel(sigma), [sigma, sigma]), x[half:]])
    noise = torch.randn(x.shape, generator=generator) * (0.03 * torch.rand((n, 1, 1, 1), generator=generator))
    return (x + noise).clamp_(0.0, 1.0)


def oracle_loss(out: dict[str, Any], batch: dict[str, torch.Tensor], categorical: Sequence[str]) -> torch.Tensor:
    """BCE (binary attributes) + CE (visible categorical factors) + weighted MSE (continuous)."""
    loss = ATTRIBUTE_WEIGHT * F.binary_cross_entropy_with_logits(out["attributes"], batch["attributes"])
    for j, name in enumerate(categorical):
        target = batch["categorical"][:, j]
        if bool((target != IGNORE).any()):
            loss = loss + F.cross_entropy(out["categorical"][name], target, ignore_index=IGNORE)
    if batch["continuous"].shape[1]:
        loss = loss + CONTINUOUS_WEIGHT * F.mse_loss(out["continuous"], batch["continuous"])
    return loss


def _to_float(images_u8: torch.Tensor) -> torch.Tensor:
    return images_u8.float().div_(255.0)


@torch.inference_mode()
def held_out_metrics(oracle: Oracle, data: dict[str, Any], blur_sigma: float | None = None) -> dict[str, Any]:
    """Per-attribute accuracy, per categorical factor accuracy (visible faces), continuous MAE."""
    x = _to_float(data["images"])
    if blur_sigma:
        x = gaussian_blur(x, blur_kernel(blur_sigma), [blur_sigma, blur_sigma])
    pred = oracle.predict(x)
    truth = data["attributes"].numpy() > 0.5
    out: dict[str, Any] = {
        "attribute_accuracy": {
            n: float(np.mean(pred.labels[n] == truth[:, k])) for k, n in enumerate(data["attribute_names"])
        },
    }
    if blur_sigma:
        return out
    cats = data["categorical"].numpy()
    out["categorical_accuracy"] = {
        n: float(np.mean(pred.nuisance[n][cats[:, j] != IGNORE] == cats[cats[:, j] != IGNORE, j]))
        for j, n in enumerate(data["categorical_names"])
        if np.any(cats[:, j] != IGNORE)
    }
    conts = data["continuous"].numpy()
    out["continuous_mae"] = {
        n: float(np.mean(np.abs(pred.nuisance[n] - conts[:, j]))) for j, n in enumerate(data["continuous_names"])
    }
    out["n_images"] = int(x.shape[0])
    return out


def train_oracle(
    out_path: Path | str,
    *,
    image_size: int = 64,
    train_size: int = 16000,
    epochs: int = 5,
    seed: int = 0,
    attributes: Sequence[str] = SYNTH_ATTRIBUTES,
    val_size: int = 2000,
    batch_size: int = 32,
    lr: float = 2e-3,
    data_seed: int = 0,
    layers: Sequence[Sequence[int]] | None = None,
    feature_dim: int = 128,
    threads: int | None = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Train an oracle on the ``train`` split, measure it on ``val``, save it to ``out_path``.

    The evaluation runs on the ``test`` split, which neither the oracle nor the model has
    seen. Returns the held-out metrics (also stored in the checkpoint) plus timings.
    ``threads`` sets torch's intra-op threads for the run (restored afterwards): on a
    busy shared CPU one thread trains several times faster than two that spin-wait.
    """
    if epochs < 1 or train_size < 2 or val_size < 1 or batch_size < 2:
        raise OracleError("epochs, train_size, val_size and batch_size must be positive (train_size, batch_size >= 2)")
    with torch_threads(threads), logs_above_bars():  # epoch log lines print above the bars
        return _train(
            Path(out_path),
            image_size=image_size,
            train_size=train_size,
            epochs=epochs,
            seed=seed,
            attributes=attributes,
            val_size=val_size,
            batch_size=batch_size,
            lr=lr,
            data_seed=data_seed,
            layers=layers,
            feature_dim=feature_dim,
            progress=progress,
        )


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (None: unchanged), then restore."""
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(
    out_path: Path,
    *,
    image_size: int,
    train_size: int,
    epochs: int,
    seed: int,
    attributes: Sequence[str],
    val_size: int,
    batch_size: int,
    lr: float,
    data_seed: int,
    layers: Sequence[Sequence[int]] | None,
    feature_dim: int,
    progress: bool,
) -> dict[str, Any]:
    """Render both splits, fit the net, measure it on val (crisp and blurred), save it."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    train = render_split("train", image_size, train_size, seed=data_seed, attributes=attributes, progress=progress)
    val = render_split("val", image_size, val_size, seed=data_seed, attributes=attributes, progress=progress)
    t_render = time.perf_counter() - t0
    nuisance = {n: spec for n, spec in NUISANCE_SPEC.items()}
    net = OracleNet(train["attribute_names"], nuisance, layers or default_layers(image_size), feature_dim)
    _fit(net, train, gen, epochs=epochs, batch_size=batch_size, lr=lr, progress=progress)
    t_train = time.perf_counter() - t0 - t_render
    config = {
        "train_size": train_size,
        "val_size": val_size,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "data_seed": data_seed,
        "train_split": "train",
        "held_out_split": "val",
    }
    oracle = Oracle(net.eval(), image_size, nuisance, config=config)
    metrics = held_out_metrics(oracle, val)
    metrics["attribute_accuracy_blurred"] = held_out_metrics(oracle, val, blur_sigma=max(1.0, image_size / 64))[
        "attribute_accuracy"
    ]
    metrics["min_attribute_accuracy"] = min(metrics["attribute_accuracy"].values())
    metrics["timings_s"] = {"render": t_render, "train": t_train, "total": time.perf_counter() - t0}
    oracle.metrics = metrics
    save_oracle(out_path, oracle)
    return metrics


def _fit(
    net: OracleNet,
    train: dict[str, Any],
    gen: torch.Generator,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    progress: bool,
) -> None:
    """Adam with a one-cycle schedule over ``epochs`` seeded shuffles of the rendered faces;
    every batch augmented (blur + noise, see the module docstring)."""
    train_size = int(train["images"].shape[0])
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = max(1, train_size // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps_per_epoch, pct_start=0.2)
    keys = ("images", "attributes", "categorical", "continuous")
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(train_size, generator=gen)
        total = 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"oracle epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for step in bar:
            idx = order[step * batch_size : (step + 1) * batch_size]
            batch = {k: train[k][idx] for k in keys}
            x = augment(_to_float(batch["images"]), gen)
            loss = oracle_loss(net(x), batch, net.categorical)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        log.info("oracle epoch %d/%d: mean loss %.4f", epoch + 1, epochs, total / steps_per_epoch)
