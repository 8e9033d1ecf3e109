"""Time the straightforward Algorithm 1 step against the optimised ``train_step`` on CPU.

Straightforward = ``reference_gradients`` (one forward pass per occurrence of E or G)
followed by the two Adam steps; optimised = ``train_step`` (shared passes). Both run the
same model, data and noise. Prints images/s of each and the ratio.

    python benchmarks/bench_train_step.py                       # paper-like 64x64 defaults
    python benchmarks/bench_train_step.py --image-size 32 --channels 8 16 32 \
        --latent 32 --batch 16 --steps 5 --threads 2            # quick run

What to expect: only forward passes and one decoder weight gradient can be shared
(see ``training.step._introvac_gradients``); the backward flows are all needed, and
backward is ~2/3 of a step, so operation counts bound the ratio near 1.25x.

Numbers on a shared machine are noisy: the two versions are interleaved step by step
and medians are reported. Besides wall time, the process CPU time per step is shown:
with ``--threads 1`` it measures the work done and hardly depends on the neighbours.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import ModelConfig, TrainConfig  # noqa: E402
from training.model import VAC  # noqa: E402
from training.step import StepNoise, reference_gradients, train_step  # noqa: E402


def reference_step(model, opt_enc, opt_dec, x, y, noise, cfg) -> None:
    opt_enc.zero_grad(set_to_none=True)
    opt_dec.zero_grad(set_to_none=True)
    reference_gradients(model, x, y, noise, cfg)
    opt_enc.step()
    opt_dec.step()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--latent", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--attributes", type=int, default=1, help="number of attribute logits K")
    p.add_argument("--mode", choices=["introvac", "vac"], default="introvac")
    p.add_argument("--steps", type=int, default=10, help="timed steps per version")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per version")
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        p.error("--steps and --batch must be positive, --warmup non-negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        model_cfg = ModelConfig(
            image_size=args.image_size,
            channels=tuple(args.channels),
            latent_dim=args.latent,
            attributes=tuple(f"attr{i}" for i in range(args.attributes)),
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cfg = TrainConfig(mode=args.mode, batch_size=args.batch)
    torch.manual_seed(0)
    model = VAC(model_cfg)
    opt_enc = torch.optim.Adam(
        model.encoder_classifier_parameters(), lr=cfg.lr, betas=cfg.adam_betas
    )
    opt_dec = torch.optim.Adam(model.decoder_parameters(), lr=cfg.lr, betas=cfg.adam_betas)
    x = torch.rand(args.batch, 3, args.image_size, args.image_size)
    y = torch.randint(0, 2, (args.batch, args.attributes)).float()
    noise = StepNoise.sample(args.batch, args.latent, "cpu", torch.Generator().manual_seed(0))

    versions = {
        "straightforward": lambda: reference_step(model, opt_enc, opt_dec, x, y, noise, cfg),
        "optimised": lambda: train_step(model, opt_enc, opt_dec, x, y, noise, cfg),
    }
    for _ in range(args.warmup):
        for run in versions.values():
            run()
    wall: dict[str, list[float]] = {name: [] for name in versions}
    cpu: dict[str, list[float]] = {name: [] for name in versions}
    for _ in range(args.steps):  # interleaved, so load changes hit both versions alike
        for name, run in versions.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)

    print(
        f"mode={args.mode} image={args.image_size} channels={args.channels} latent={args.latent} "
        f"batch={args.batch} threads={torch.get_num_threads()} steps={args.steps} warmup={args.warmup}"
    )
    rates, cpu_ms = {}, {}
    for name in versions:
        median = statistics.median(wall[name])
        rates[name] = args.batch / median
        cpu_ms[name] = statistics.median(cpu[name]) * 1000
        print(
            f"{name:>16}: median {median * 1000:8.1f} ms/step  {rates[name]:8.1f} images/s"
            f"  (CPU time {cpu_ms[name]:8.1f} ms/step)"
        )
    print(
        f"ratio optimised/straightforward: {rates['optimised'] / rates['straightforward']:.2f}x images/s"
    )
    print(
        f"ratio in CPU time per step:      {cpu_ms['straightforward'] / cpu_ms['optimised']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
