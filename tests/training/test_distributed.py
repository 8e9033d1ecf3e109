"""Two CPU processes (gloo): explicit gradient averaging, disjoint data shards, identical
weights on both ranks, and rank 0 alone writing checkpoints and TensorBoard logs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from training.checkpoint import load_checkpoint
from training.config import ModelConfig, TrainConfig

WORLD = 2
STEPS = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, tmp: str, port: int) -> None:
    """One rank: the environment torchrun would set, then the trainer's own setup."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(WORLD), LOCAL_RANK=str(rank))  # fmt: skip
    torch.set_num_threads(1)
    from training.distributed import cleanup, init_distributed, make_gradient_averager
    from training.trainer import Trainer

    ctx = init_distributed(use_cuda=False)
    try:
        # 1. the averager: rank r holds gradients r + 1, so the mean is 1.5 everywhere
        params = [torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2, 2))]
        for p in params:
            p.grad = torch.full_like(p, rank + 1.0)
        make_gradient_averager([params[:1], params[1:]], ctx)(None)
        averaged = [p.grad.tolist() for p in params]

        # 2. a short run, each rank with its own --out so stray writes by rank 1 would show
        model_cfg = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("eyeglasses",))
        train_cfg = TrainConfig(batch_size=2, synth_train_size=16, epochs=2, max_steps=STEPS,
                                log_every=1, image_every=1, checkpoint_every=1, seed=3)  # fmt: skip
        trainer = Trainer(model_cfg, train_cfg, Path(tmp) / f"rank{rank}", device="cpu", ctx=ctx)
        shard = list(trainer._loader(0, 0).sampler)
        trainer.fit()
        torch.save(trainer.model.state_dict(), Path(tmp) / f"weights{rank}.pt")
        (Path(tmp) / f"info{rank}.json").write_text(json.dumps({"averaged": averaged, "shard": shard}))
    finally:
        cleanup(ctx)


def test_two_processes_stay_in_lockstep_and_only_rank0_writes(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path), _free_port()), nprocs=WORLD, join=True)

    info = [json.loads((tmp_path / f"info{r}.json").read_text()) for r in range(WORLD)]
    for rank_info in info:
        assert rank_info["averaged"] == [[1.5] * 3, [[1.5, 1.5], [1.5, 1.5]]]
    shards = [set(i["shard"]) for i in info]
    assert len(shards[0]) == len(shards[1]) == 8 and not shards[0] & shards[1]

    w0, w1 = (torch.load(tmp_path / f"weights{r}.pt", weights_only=True) for r in range(WORLD))
    for key in w0:
        assert torch.equal(w0[key], w1[key]), f"ranks disagree on {key}"

    ckpt = load_checkpoint(tmp_path / "rank0")
    assert ckpt["step"] == STEPS and ckpt["world_size"] == WORLD and len(ckpt["rng_by_rank"]) == WORLD
    for key in w0:
        assert torch.equal(ckpt["model"][key], w0[key])
    assert list((tmp_path / "rank0" / "tensorboard").glob("events.out.tfevents.*"))
    assert not (tmp_path / "rank1").exists(), "rank 1 must not write anything"
