"""The trainer: the ONE place that wires data, model, losses, optimizers, devices, logs
and checkpoints (the loss math lives in ``training.step``).

Exact resume is a design goal, not an accident. All randomness of a run comes from:
the global seed (model init), the step-noise generator (``StepNoise.sample``), and the
data order, which is a pure function of ``(seed, epoch)`` (``DistributedSampler``
seeded with ``seed`` + ``set_epoch``; a one-process run is world size 1). A checkpoint
stores the generators plus ``epoch`` / ``batch_in_epoch``; resuming rebuilds the same
permutation and skips the batches already done, so N straight steps and N/2 + resume
+ N/2 give bit-identical weights on the CPU. Image logging uses its own generator.

Output folder: ``<out>/config.json``, ``<out>/checkpoints/latest.pt``, ``<out>/tensorboard/``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from training import checkpoint as ckpt_io
from training.config import ModelConfig, TrainConfig
from training.data.base import DatasetError
from training.data.factory import build_dataset
from training.data.order import epoch_loader
from training.distributed import (
    DistContext,
    all_gather_objects,
    average_scalars,
    broadcast_parameters,
    cleanup,
    init_distributed,
    make_gradient_averager,
    resolve_device,
)
from training.init_weights import load_initial_weights
from training.model import VAC
from training.monitor import ScalarLog, TensorBoardLogger, logs_above_bars, mean_reconstruction_l1, visual_grids
from training.results import TrainingDivergedError, TrainResult
from training.step import StepNoise, train_step

log = logging.getLogger("training")

VIS_IMAGES = 8  # images in the TensorBoard grids


class Trainer:
    """Owns one run. Build with a fresh config or ``from_checkpoint``; call :meth:`fit`."""

    def __init__(
        self,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        out_dir: str | Path,
        *,
        device: str | torch.device = "auto",
        ctx: DistContext | None = None,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        self.model_cfg, self.cfg = model_cfg, train_cfg
        self.out_dir = Path(out_dir)
        self.ctx = ctx or DistContext()
        self.device = device if isinstance(device, torch.device) else resolve_device(device, self.ctx)
        self.ckpt_path = self.out_dir / "checkpoints" / ckpt_io.LATEST_NAME
        self.last_good: Path | None = None
        self.commit = ckpt_io.git_commit()

        torch.manual_seed(train_cfg.seed)
        np.random.seed(train_cfg.seed)
        random.seed(train_cfg.seed)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        self.train_set = self._dataset("train")
        shard = len(self.train_set) // self.ctx.world_size
        self.batches_per_epoch = shard // train_cfg.batch_size
        if self.batches_per_epoch == 0:
            raise ValueError(
                f"the train split has {len(self.train_set)} images: fewer than batch size {train_cfg.batch_size}"
                f" x {self.ctx.world_size} process(es); lower --batch-size or add data"
            )

        self.memory_format = torch.channels_last if train_cfg.channels_last else torch.contiguous_format
        self.model = VAC(model_cfg).to(self.device, memory_format=self.memory_format)
        enc, dec = self.model.encoder_classifier_parameters(), self.model.decoder_parameters()
        adam = {"lr": train_cfg.lr, "betas": tuple(train_cfg.adam_betas)}
        self.opt_enc = torch.optim.Adam(enc, **adam)
        self.opt_dec = torch.optim.Adam(dec, **adam)
        milestones = train_cfg.milestones()
        self.sched_enc = torch.optim.lr_scheduler.MultiStepLR(self.opt_enc, milestones, gamma=train_cfg.lr_gamma)
        self.sched_dec = torch.optim.lr_scheduler.MultiStepLR(self.opt_dec, milestones, gamma=train_cfg.lr_gamma)
        # CPU generator: the same noise stream whatever the training device (see StepNoise.sample).
        self.noise_gen = torch.Generator()
        self.noise_gen.manual_seed(train_cfg.seed + 1_000_003 * (self.ctx.rank + 1))
        self.grad_hook = make_gradient_averager([enc, dec], self.ctx)
        self.epoch = self.step = self.batch_in_epoch = 0
        if checkpoint is not None:
            self._restore(checkpoint)
        elif train_cfg.init_from is not None:  # a new run from another model's weights (fine-tuning)
            load_initial_weights(self.model, train_cfg.init_from)
        broadcast_parameters(self.model, self.ctx)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        out_dir: str | Path | None = None,
        epochs: int | None = None,
        max_steps: int | None = None,
        device: str | torch.device = "auto",
        ctx: DistContext | None = None,
    ) -> Trainer:
        """Fresh objects from the checkpoint alone; ``epochs``/``max_steps`` extend the run."""
        path = ckpt_io.resolve_checkpoint_path(path)
        checkpoint = ckpt_io.load_checkpoint(path)
        model_cfg, train_cfg = ckpt_io.configs_from_checkpoint(checkpoint)
        changes = {k: v for k, v in (("epochs", epochs), ("max_steps", max_steps)) if v is not None}
        train_cfg = dataclasses.replace(train_cfg, **changes)
        if out_dir is None:
            out_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
        return cls(model_cfg, train_cfg, out_dir, device=device, ctx=ctx, checkpoint=checkpoint)

    def _dataset(self, split: str) -> Dataset:
        dataset = build_dataset(self.cfg, self.model_cfg, split)
        names = tuple(getattr(dataset, "attribute_names", self.model_cfg.attributes))
        if names != self.model_cfg.attributes:
            raise ValueError(
                f"dataset attributes {list(names)} differ from model attributes {list(self.model_cfg.attributes)}"
            )
        return dataset

    def _restore(self, checkpoint: dict[str, Any]) -> None:
        """Load every piece of state. The lr milestones stay those of the original run."""
        ckpt_io.load_model_state(self.model, checkpoint["model"])
        self.opt_enc.load_state_dict(checkpoint["opt_enc"])
        self.opt_dec.load_state_dict(checkpoint["opt_dec"])
        self.sched_enc.load_state_dict(checkpoint["sched_enc"])
        self.sched_dec.load_state_dict(checkpoint["sched_dec"])
        self.epoch, self.step = int(checkpoint["epoch"]), int(checkpoint["step"])
        self.batch_in_epoch = int(checkpoint["batch_in_epoch"])
        by_rank = checkpoint.get("rng_by_rank")
        if by_rank is not None and len(by_rank) == self.ctx.world_size:
            ckpt_io.restore_rng_state(by_rank[self.ctx.rank], self.noise_gen)
        elif self.ctx.rank == 0:
            ckpt_io.restore_rng_state(checkpoint["rng"], self.noise_gen)
        else:  # world size changed: fresh, distinct noise for this rank
            self.noise_gen.manual_seed(self.cfg.seed + 1_000_003 * (self.ctx.rank + 1) + self.step)
        if checkpoint.get("world_size", 1) != self.ctx.world_size and self.batch_in_epoch:
            log.warning("resuming mid-epoch with a different world size: the epoch's data order differs")
        self.last_good = self.ckpt_path if self.ckpt_path.is_file() else None

    # ------------------------------------------------------------------ data

    def _loader(self, epoch: int, skip_batches: int) -> DataLoader:
        """This rank's batches of ``epoch``, a pure function of (seed, epoch), minus the done ones."""
        return epoch_loader(
            self.train_set,
            epoch=epoch,
            skip_batches=skip_batches,
            batch_size=self.cfg.batch_size,
            batches_per_epoch=self.batches_per_epoch,
            seed=self.cfg.seed,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
            num_workers=self.cfg.num_workers,
            pin_memory=self.device.type == "cuda",
        )

    def _visual_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed originals (validation split when available) and fixed prior latents."""
        try:
            source = self._dataset("val")
        except (DatasetError, ValueError) as exc:
            log.info("no validation images for TensorBoard grids (%s); using train images", exc)
            source = self.train_set
        n = min(VIS_IMAGES, len(source))
        images = torch.stack([source[i][0] for i in range(n)]).to(self.device)
        z = torch.randn(16, self.model_cfg.latent_dim, generator=torch.Generator().manual_seed(self.cfg.seed))
        return images, z.to(self.device)

    # ------------------------------------------------------------------ checkpoints / logs

    def _weights_finite(self) -> bool:
        return bool(torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all())

    def save(self) -> Path | None:
        """Collective (RNG states of every rank are gathered); rank 0 writes atomically."""
        rng = ckpt_io.capture_rng_state(self.noise_gen)
        # The data order needs no generator state: it is DistributedSampler(seed).set_epoch(epoch),
        # and the position inside the epoch is batch_in_epoch (recorded here for the reader).
        rng["data"] = {
            "sampler_seed": self.cfg.seed,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "world_size": self.ctx.world_size,
        }
        by_rank = all_gather_objects(rng, self.ctx)
        if not self._weights_finite():
            raise TrainingDivergedError(self.step, {}, self.last_good, what="weights (refusing to checkpoint them)")
        if not self.ctx.is_main:
            return None
        extra = {
            "world_size": self.ctx.world_size,
            "epochs_completed": self.epoch + self.batch_in_epoch / self.batches_per_epoch,
        }
        if self.ctx.enabled:
            extra["rng_by_rank"] = by_rank
        state = ckpt_io.build_checkpoint(
            model=self.model,
            opt_enc=self.opt_enc,
            opt_dec=self.opt_dec,
            sched_enc=self.sched_enc,
            sched_dec=self.sched_dec,
            train_config=self.cfg,
            rng=rng,
            epoch=self.epoch,
            step=self.step,
            batch_in_epoch=self.batch_in_epoch,
            commit=self.commit,
            extra=extra,
        )
        self.last_good = ckpt_io.save_checkpoint(state, self.ckpt_path)
        return self.last_good

    def _write_config(self) -> None:
        info = {
            "model_config": self.model_cfg.to_dict(),
            "train_config": self.cfg.to_dict(),
            "git_commit": self.commit,
            "world_size": self.ctx.world_size,
            "device": str(self.device),
            "started_at_step": self.step,
        }
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "config.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")

    def _lrs(self) -> dict[str, float]:
        return {"lr/encoder": self.opt_enc.param_groups[0]["lr"], "lr/decoder": self.opt_dec.param_groups[0]["lr"]}

    # ------------------------------------------------------------------ the loop

    def total_steps(self) -> int:
        total = self.cfg.epochs * self.batches_per_epoch
        return total if self.cfg.max_steps is None else min(total, self.cfg.max_steps)

    def _done(self) -> bool:
        return self.epoch >= self.cfg.epochs or (self.cfg.max_steps is not None and self.step >= self.cfg.max_steps)

    def _run_step(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        y = y.to(self.device, non_blocking=True)
        cfg = self.cfg.at_step(self.step, self.total_steps())
        edits = len(self.model_cfg.attributes) if cfg.edit_consistency_weight > 0 else 0
        noise = StepNoise.sample(
            x.shape[0], self.model_cfg.latent_dim, self.device, self.noise_gen, edit_attributes=edits
        )
        losses = train_step(
            self.model, self.opt_enc, self.opt_dec, x, y, noise=noise, cfg=cfg, grad_hook=self.grad_hook
        )
        losses = average_scalars(losses, self.ctx, self.device)
        if not all(math.isfinite(v) for v in losses.values()):
            raise TrainingDivergedError(self.step + 1, losses, self.last_good)
        self.step += 1
        self.batch_in_epoch += 1
        if self.batch_in_epoch == self.batches_per_epoch:  # epoch boundary: lr schedule is per epoch
            self.sched_enc.step()
            self.sched_dec.step()
            self.epoch += 1
            self.batch_in_epoch = 0
        return losses

    def fit(self) -> TrainResult:
        """Train until ``epochs`` or ``max_steps``; checkpoint every ``checkpoint_every`` steps,
        at every epoch end and at the last step. Log lines print above the progress bar
        (tqdm's logging redirect), never into it."""
        main = self.ctx.is_main
        if main:
            self._write_config()
        tb = TensorBoardLogger(self.out_dir / "tensorboard", enabled=main, purge_step=self.step or None)
        vis = self._visual_batch() if main and self.cfg.image_every > 0 else None
        interactive = main and sys.stderr.isatty()
        bar = tqdm(
            total=self.total_steps(), initial=self.step, disable=not interactive, dynamic_ncols=True, desc="train"
        )
        start_step = self.step
        t0 = time.perf_counter()
        with logs_above_bars():
            self._announce()
            try:
                losses = self._loop(tb, bar, vis, echo=main and not interactive)
            finally:
                bar.close()
                tb.close()
            elapsed = time.perf_counter() - t0
            result = TrainResult(
                self.out_dir,
                self.last_good if main else None,
                self.step,
                self.epoch,
                losses,
                self.step - start_step,
                elapsed,
            )
            log.info(
                "done: step %d, epoch %d, %.1f s, %.2f steps/s, checkpoint %s",
                *(self.step, self.epoch, elapsed, result.steps_per_s, result.checkpoint),
            )
        return result

    def _announce(self) -> None:
        """The run's plan in one log line, and a warning when there is nothing left to do."""
        c = self.cfg
        log.info(
            "training %s on %s: %d batches/epoch, steps %d -> %d, device %s, world size %d",
            *(
                c.mode,
                c.dataset,
                self.batches_per_epoch,
                self.step,
                self.total_steps(),
                self.device,
                self.ctx.world_size,
            ),
        )
        if self._done():
            log.warning(
                "nothing to do: step %d / epoch %d already reach the limits (pass a larger "
                "max_steps or epochs to extend the run)",
                self.step,
                self.epoch,
            )

    def _loop(
        self, tb: TensorBoardLogger, bar: tqdm, vis: tuple[torch.Tensor, torch.Tensor] | None, *, echo: bool
    ) -> dict[str, float]:
        """Step until done, logging, drawing grids and checkpointing on schedule; returns the
        last step's losses (empty when no step ran)."""
        scalars, losses = ScalarLog(tb, bar, step=self.step, echo=echo), {}
        while not self._done():
            for x, y in self._loader(self.epoch, self.batch_in_epoch):
                epoch_before = self.epoch
                losses = self._run_step(x, y)
                scalars.add(losses)
                bar.update(1)
                if self.step % max(self.cfg.log_every, 1) == 0:
                    scalars.measured(ae_mean=mean_reconstruction_l1(self.model, x.to(self.device)))  # D(mu)
                    scalars.write(step=self.step, total=self.total_steps(), epoch=self.epoch, lrs=self._lrs())
                if vis is not None and self.step % self.cfg.image_every == 0:
                    tb.images(self.step, visual_grids(self.model, *vis, self.model_cfg.attributes))
                if self.step % max(self.cfg.checkpoint_every, 1) == 0 or self.epoch != epoch_before or self._done():
                    self.save()
                if self._done():
                    break
        return losses


def _run(make: Any, device: str) -> TrainResult:
    """Join torchrun's process group when launched by it, run, and always leave it."""
    use_cuda = resolve_device(device).type == "cuda"
    ctx = init_distributed(use_cuda)
    try:
        return make(ctx).fit()
    finally:
        cleanup(ctx)


def train(model_cfg: ModelConfig, train_cfg: TrainConfig, out_dir: str | Path, *, device: str = "auto") -> TrainResult:
    """Train from scratch (alone or under torchrun)."""
    return _run(lambda ctx: Trainer(model_cfg, train_cfg, out_dir, device=device, ctx=ctx), device)


def resume(
    checkpoint: str | Path,
    *,
    out_dir: str | Path | None = None,
    epochs: int | None = None,
    max_steps: int | None = None,
    device: str = "auto",
) -> TrainResult:
    """Continue a run exactly where its checkpoint stopped (optionally extended)."""
    return _run(
        lambda ctx: Trainer.from_checkpoint(
            checkpoint, out_dir=out_dir, epochs=epochs, max_steps=max_steps, device=device, ctx=ctx
        ),
        device,
    )
