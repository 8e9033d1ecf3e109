"""torchrun support: process group, rank roles, and explicit gradient averaging.

The same ``python -m training train ...`` runs alone or under ``torchrun`` (which sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). Each rank
trains on its own shard of every epoch (``DistributedSampler``, seeded, ``set_epoch``);
rank 0 alone writes checkpoints, TensorBoard logs and the progress bar.

Why not ``DistributedDataParallel``: Algorithm 1 shares one set of forward passes
between two differently-weighted objectives (encoder+classifier get grad L, the decoder
gets grad (L + L_G), with detached paths in between), so ``training.step`` builds the
gradients with ``torch.autograd.grad`` and several backward calls over one forward.
DDP's reducer hooks exactly one ``.backward()`` per forward and would all-reduce a
partial (or doubly counted) gradient. Instead, after ``compute_gradients`` has set every
``.grad``, :func:`make_gradient_averager` all-reduces the gradients explicitly (one flat
bucket per optimizer group) and divides by the world size; the trainer passes it as
``train_step(..., grad_hook=...)``. Initial parameters are broadcast from rank 0, so all
ranks apply identical averaged updates to identical weights and stay in lock-step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank 0 of 1 when not launched by torchrun."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # None = no process group

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(use_cuda: bool) -> DistContext:
    """Join the torchrun process group when ``WORLD_SIZE > 1`` (gloo on CPU, NCCL on GPU)."""
    world_size = env_world_size()
    if world_size <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size, timeout=timedelta(minutes=30))
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, backend=backend)


def cleanup(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def broadcast_parameters(model: nn.Module, ctx: DistContext, src: int = 0) -> None:
    """Make every rank start from rank ``src``'s parameters and buffers."""
    if not ctx.enabled:
        return
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=src)


def make_gradient_averager(groups: list[list[nn.Parameter]], ctx: DistContext) -> Callable[[nn.Module], None] | None:
    """A ``grad_hook`` that replaces each ``.grad`` by its mean over ranks (None if alone).

    ``groups`` are the parameter lists of the two optimizers; each group is flattened
    into one bucket so that a step costs two all-reduce calls, not one per tensor.
    """
    if not ctx.enabled:
        return None

    def average(_model: nn.Module) -> None:
        for params in groups:
            for p in params:
                if p.grad is None:  # keep the bucket layout identical on every rank
                    p.grad = torch.zeros_like(p)
            grads = [p.grad for p in params]
            flat = _flatten_dense_tensors(grads)
            dist.all_reduce(flat, op=dist.ReduceOp.SUM)
            flat.div_(ctx.world_size)
            for grad, synced in zip(grads, _unflatten_dense_tensors(flat, grads), strict=True):
                grad.copy_(synced)

    return average


def average_scalars(values: dict[str, float], ctx: DistContext, device: torch.device) -> dict[str, float]:
    """Mean of each scalar over ranks, so logs and the NaN guard agree on every rank."""
    if not ctx.enabled or not values:
        return values
    keys = sorted(values)
    packed = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    packed /= ctx.world_size
    return dict(zip(keys, packed.tolist(), strict=True))


def all_gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` when alone."""
    if not ctx.enabled:
        return [obj]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def resolve_device(preference: str, ctx: DistContext | None = None) -> torch.device:
    """'auto' -> CUDA when present else CPU; 'cuda' without a GPU is a clear error."""
    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {preference!r}")
    if preference == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA GPU is available (use --device cpu or auto)")
    if preference == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", ctx.local_rank) if ctx is not None and ctx.enabled else torch.device("cuda")
