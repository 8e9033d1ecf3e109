"""Monitoring helpers: running loss means, the TensorBoard image grids that show training
works, and log lines that print above tqdm bars instead of through them.

Image grids are computed in ``eval`` mode under ``no_grad`` from a fixed batch and fixed
prior samples drawn from their *own* generator, so logging never consumes the random
streams of training (exact resume stays exact whether or not images are logged).
"""

from __future__ import annotations

import logging
import math
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import torch
from torch import nn
from torchvision.utils import make_grid
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

EDIT_DELTA = 3.0  # paper's delta for a single attribute edit (eyeglasses)


def logs_above_bars() -> AbstractContextManager:
    """``tqdm.contrib.logging.logging_redirect_tqdm`` for the loggers that write to the
    console themselves (the CLI's ``training`` logger, the root logger of
    ``logging.basicConfig``): their lines go through ``tqdm.write`` while a bar is shown.
    Loggers without a console handler are left alone, so library use prints nothing new."""
    candidates = (logging.getLogger(), logging.getLogger("training"))
    return logging_redirect_tqdm(loggers=[lg for lg in candidates if any(map(_writes_to_console, lg.handlers))])


def _writes_to_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.stderr)


class RunningMeans:
    """Accumulates scalars between two TensorBoard writes and returns their means."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1

    def pop(self) -> dict[str, float]:
        means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means


class ScalarLog:
    """What the trainer reports every ``log_every`` steps: TensorBoard scalars (loss means
    since the last write, learning rates, steps/s, epoch), the bar's postfix, and a log
    line when there is no bar to look at (``echo``: not a TTY)."""

    def __init__(self, tb: TensorBoardLogger, bar: tqdm, *, step: int, echo: bool) -> None:
        self.tb, self.bar, self.echo = tb, bar, echo
        self.means = RunningMeans()
        self._measured: dict[str, float] = {}
        self._last = (time.perf_counter(), step)

    def add(self, losses: dict[str, float]) -> None:
        self.means.add(losses)

    def measured(self, **values: float) -> None:
        """Figures taken once, at the step the next :meth:`write` reports (not means)."""
        self._measured.update(values)

    def write(self, *, step: int, total: int, epoch: int, lrs: dict[str, float]) -> None:
        now = time.perf_counter()
        last_t, last_step = self._last
        rate = (step - last_step) / max(now - last_t, 1e-9)
        self._last = (now, step)
        mean = self.means.pop() | self._measured
        self._measured = {}
        self.tb.scalars(step, mean, prefix="loss/")
        self.tb.scalars(step, {**lrs, "perf/steps_per_s": rate, "epoch": epoch})
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in mean.items()}, refresh=False)
        if self.echo:
            shown = " ".join(f"{k}={v:.4g}" for k, v in mean.items())
            logging.getLogger("training").info("step %d/%d epoch %d %.2f steps/s %s", step, total, epoch, rate, shown)


class TensorBoardLogger:
    """A ``SummaryWriter`` on rank 0; a silent no-op elsewhere (``enabled=False``)."""

    def __init__(self, log_dir: Path, *, enabled: bool = True, purge_step: int | None = None) -> None:
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: heavy

            self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)

    def scalars(self, step: int, values: dict[str, float], prefix: str = "") -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}{key}", value, step)

    def images(self, step: int, grids: dict[str, torch.Tensor]) -> None:
        if self.writer is None:
            return
        for name, grid in grids.items():
            self.writer.add_image(name, grid, step)

    def flush(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


@torch.no_grad()
def mean_reconstruction_l1(model: nn.Module, images: torch.Tensor) -> float:
    """L1 of ``D(mu(x))`` on a batch: what the service decodes. The step's ``ae`` is the L1 of
    ``D(z_r)``, a sampled latent; a decoder can learn those while ``D(mu)`` stays a blur (a
    from-scratch run measured 0.056 against 0.250, benchmarks/RESULTS.md), so both are logged."""
    was_training = model.training
    model.eval()
    try:
        mean, _ = model.encoder(images)
        return float((model.decoder(mean).float() - images.float()).abs().mean())
    finally:
        model.train(was_training)


def edit_latents(mean: torch.Tensor, direction: torch.Tensor, delta: float) -> torch.Tensor:
    """z = mean + delta * w_k / |w_k| (paper Sec. 3.3); a negative delta removes the attribute."""
    return mean + delta * direction / direction.norm().clamp_min(1e-12)


@torch.no_grad()
def visual_grids(
    model: nn.Module,
    images: torch.Tensor,
    prior_z: torch.Tensor,
    attribute_names: tuple[str, ...] | list[str],
    delta: float = EDIT_DELTA,
) -> dict[str, torch.Tensor]:
    """Grids (3, H, W) in [0, 1]: originals over reconstructions, one edit grid per
    attribute (rows: original, reconstruction, -delta, +delta) and prior samples."""
    was_training = model.training
    model.eval()
    try:
        mean, _ = model.encoder(images)
        recon = model.decoder(mean)
        n = images.shape[0]
        grids = {"images/reconstruction": make_grid(torch.cat([images, recon]).float().cpu(), nrow=n)}
        weights = model.classifier.weight
        for k, name in enumerate(attribute_names):
            minus = model.decoder(edit_latents(mean, weights[k], -delta))
            plus = model.decoder(edit_latents(mean, weights[k], delta))
            rows = torch.cat([images, recon, minus, plus]).float().cpu()
            grids[f"images/edit_{name}"] = make_grid(rows, nrow=n)
        samples = model.decoder(prior_z).float().cpu()
        grids["images/prior_samples"] = make_grid(samples, nrow=max(1, int(math.sqrt(samples.shape[0]))))
    finally:
        model.train(was_training)
    return grids
