"""The data order of a run: a pure function of ``(seed, epoch)``, so a resumed run sees
exactly the batches the uninterrupted one would have.

Each rank reads its shard of a seeded ``DistributedSampler`` permutation (``set_epoch``;
a one-process run is world size 1), minus the batches an interrupted epoch already did.
No generator state needs checkpointing for it: ``epoch`` and ``batch_in_epoch`` suffice.
"""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler


def seed_worker(_worker_id: int) -> None:
    """DataLoader workers: derive numpy/random seeds from the per-worker torch seed."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def epoch_loader(
    dataset: Dataset,
    *,
    epoch: int,
    skip_batches: int,
    batch_size: int,
    batches_per_epoch: int,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """This rank's batches of ``epoch`` (``batches_per_epoch`` full ones), minus the first ``skip_batches``."""
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True)
    sampler.set_epoch(epoch)
    indices = list(sampler)[skip_batches * batch_size : batches_per_epoch * batch_size]
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=indices,
        drop_last=True,
        num_workers=num_workers,
        pin_memory=pin_memory,
        generator=torch.Generator().manual_seed(seed * 100_003 + epoch),
        worker_init_fn=seed_worker,
    )
