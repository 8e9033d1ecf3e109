"""Time three versions of the IntroVAC training step (CPU) and print images/s and ratios.

  public-ref  ``training.step_reference.public_reference_step``: the step as the
              authors' public code writes it: 5 encoder + 4 decoder forward passes,
              plain ``.backward()`` on whole losses. The issue's target ("at least
              1.6x") is measured against this one.
  minimal     ``reference_gradients`` + both Adam steps: a literal transcription of
              Algorithm 1 (5 E + 3 G forward passes) whose backward passes reach only
              the parameters that need them.
  optimised   ``training.step.train_step``: shared passes (3N encoder rows and 2N
              decoder rows forward).
  trainer     ``optimised`` in the memory layout the trainer uses by default
              (``TrainConfig.channels_last``: NHWC model and images). This is the
              step ``python -m training train`` runs; the three above use the layout
              of ``--channels-last`` (default NCHW, what the public code uses).
  trainer+edit  ``trainer`` with the optional edit-consistency term on
              (``edit_consistency_weight`` = ``--edit-weight``, beyond the paper): one
              more decoder and encoder pass of N rows and their backward into the
              decoder. The line "edit-consistency term" gives its per-step cost.
All use the same model, data and fixed noise, and each does both Adam updates.

    python benchmarks/bench_train_step.py --image-size 64 --channels 16 32 64 128 \
        --latent 64 --batch 16 --steps 4 --warmup 1 --threads 1

What to expect: each version also runs one untimed step under a FLOP counter
(convolutions and matmuls, forward and backward). At the command above that gives
40.4 GFLOP per step for public-ref, 35.3 for minimal and 29.3 for optimised, so the
work ratios are 1.38x and 1.21x. Backward passes are 72% of optimised's FLOPs, and
its backward FLOPs are within 5% of minimal's: every backward flow it still runs is
needed (see ``training.step._introvac_gradients``). So the 1.6x target is out of reach by
pass sharing alone, unless per-operation overhead dominates (tiny models).
NHWC (``--channels-last`` for the first three, always for ``trainer``) made every
version about 1.3-1.45x faster on CPU in our runs, which is why the trainer uses it;
the line "trainer vs public-ref" is the end-to-end gain of this project's step over the
public code's step as that code runs it.

Numbers on a shared machine are noisy. The versions run interleaved, in rotating
order. Each version gets its median wall time, its median process CPU time and its
smallest CPU time per step. With ``--threads 1``, CPU time tracks the work done more
closely than wall time, but a busy neighbour still inflates it (shared caches and
cores). The minimum is the least disturbed step.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.config import ModelConfig, TrainConfig
from training.model import VAC
from training.step import StepNoise, train_step
from training.step_reference import public_reference_step, reference_gradients

TARGET = 1.6  # the target: optimised vs the public code's step pattern


def minimal_step(model, opt_enc, opt_dec, x, y, *, noise, cfg) -> None:
    """reference_gradients plus both optimizer updates, as in train_step."""
    opt_enc.zero_grad(set_to_none=True)
    opt_dec.zero_grad(set_to_none=True)
    reference_gradients(model, x, y, noise=noise, cfg=cfg)
    opt_enc.step()
    opt_dec.step()


class FlopCount(TorchDispatchMode):
    """Counts the FLOPs of convolutions and matmuls, forward and backward, with the
    formulas of torch.utils.flop_counter (they skip the gradients that a
    convolution_backward does not compute). The count does not depend on machine
    load, so it shows the work each version does. FlopCounterMode itself is not
    used: its module tracker fails on autograd.grad with a leaf input."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func.overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


VERSIONS = {
    "public-ref": public_reference_step,
    "minimal": minimal_step,
    "optimised": train_step,
    "trainer": train_step,  # always NHWC, as TrainConfig.channels_last defaults
    "trainer+edit": train_step,  # trainer with the edit-consistency term on (--edit-weight)
}
NHWC_ALWAYS = ("trainer", "trainer+edit")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--channels", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--latent", type=int, default=64)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--attributes", type=int, default=1, help="number of attribute logits K")
    p.add_argument("--mode", choices=["introvac", "vac"], default="introvac")
    p.add_argument("--steps", type=int, default=4, help="timed steps per version")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps per version")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--edit-weight", type=float, default=1.0, help="edit_consistency_weight of trainer+edit")
    p.add_argument(
        "--channels-last",
        action="store_true",
        help="model and images in channels_last memory format (all versions alike)",
    )
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1 or args.attributes < 1:
        p.error("--steps, --batch and --attributes must be positive, --warmup non-negative")
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be positive")
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
    runs = build_runs(args, model_cfg)
    wall, cpu, gflops = measure(runs, steps=args.steps, warmup=args.warmup)
    report(args, wall, cpu, gflops)
    return 0


def build_runs(args: argparse.Namespace, model_cfg: ModelConfig) -> dict[str, Callable[[], object]]:
    """One model + optimizers per version, all from the same initial weights, data and noise."""
    cfg = TrainConfig(mode=args.mode, batch_size=args.batch)
    edit_cfg = TrainConfig(mode=args.mode, batch_size=args.batch, edit_consistency_weight=args.edit_weight)
    base_fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    torch.manual_seed(0)
    x_base = torch.rand(args.batch, 3, args.image_size, args.image_size)
    y = torch.randint(0, 2, (args.batch, args.attributes)).float()
    # the edit draws come after eps and z_g, so every version sees the same eps and z_g
    noise = StepNoise.sample(
        args.batch, args.latent, "cpu", torch.Generator().manual_seed(0), edit_attributes=args.attributes
    )
    initial = VAC(model_cfg).state_dict()
    runs = {}
    for name, step in VERSIONS.items():
        fmt = torch.channels_last if name in NHWC_ALWAYS else base_fmt
        x = x_base.contiguous(memory_format=fmt)
        model = VAC(model_cfg)
        model.load_state_dict(initial)
        model = model.to(memory_format=fmt)
        opt_enc = torch.optim.Adam(model.encoder_classifier_parameters(), lr=cfg.lr, betas=cfg.adam_betas)
        opt_dec = torch.optim.Adam(model.decoder_parameters(), lr=cfg.lr, betas=cfg.adam_betas)
        step_cfg = edit_cfg if name == "trainer+edit" else cfg
        runs[name] = functools.partial(step, model, opt_enc, opt_dec, x, y, noise=noise, cfg=step_cfg)
    return runs


def measure(
    runs: dict[str, Callable[[], object]], *, steps: int, warmup: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, float]]:
    """Warm up, count one step's GFLOP per version, then time ``steps`` steps each,
    interleaved and rotated so that load changes hit all versions alike.
    Returns wall and CPU seconds per step, and GFLOP per step."""
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    gflops = {}
    for name in names:  # one extra untimed step each
        with FlopCount() as counter:
            runs[name]()
        gflops[name] = counter.flops / 1e9
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for i in range(steps):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            start, start_cpu = time.perf_counter(), time.process_time()
            runs[name]()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu, gflops


def report(args: argparse.Namespace, wall: dict, cpu: dict, gflops: dict) -> None:
    """Print images/s per version (median wall, median CPU, smallest CPU: neighbours only
    ever add time, so the minimum is the least disturbed step) and the ratios vs the baselines."""
    print(
        f"mode={args.mode} image={args.image_size} channels={args.channels} latent={args.latent} "
        f"batch={args.batch} threads={torch.get_num_threads()} steps={args.steps} "
        f"warmup={args.warmup} memory_format={'channels_last' if args.channels_last else 'NCHW'}"
        " (trainer: channels_last)"
    )
    rates: dict[str, dict[str, float]] = {"wall": {}, "CPU": {}, "CPU min": {}, "FLOP": {}}
    for name in wall:
        ms = {
            "wall": statistics.median(wall[name]) * 1000,
            "CPU": statistics.median(cpu[name]) * 1000,
            "CPU min": min(cpu[name]) * 1000,
        }
        for kind, value in ms.items():
            rates[kind][name] = args.batch / value * 1000
        print(
            f"{name:>12}: wall {ms['wall']:7.1f} ms/step {rates['wall'][name]:6.1f} images/s | "
            f"CPU median {ms['CPU']:7.1f} ms/step {rates['CPU'][name]:6.1f} images/CPU-s | "
            f"CPU min {ms['CPU min']:7.1f} ms/step {rates['CPU min'][name]:6.1f} images/CPU-s | "
            f"{gflops[name]:.4g} GFLOP/step"
        )
        rates["FLOP"][name] = 1.0 / gflops[name]  # work ratio, not a speed
    print_ratios(rates)
    cost = {kind: rate["trainer"] / rate["trainer+edit"] - 1 for kind, rate in rates.items()}
    print(
        "edit-consistency term (trainer+edit vs trainer): "
        + "  ".join(f"{'work' if kind == 'FLOP' else kind} +{100 * value:.0f}%" for kind, value in cost.items())
        + " per step"
    )


def print_ratios(rates: dict[str, dict[str, float]]) -> None:
    """optimised and trainer against both baselines, and the verdict on the 1.6x target."""
    labels = {"public-ref": "public-ref pattern", "minimal": "minimal transcription"}
    pairs = [(fast, base) for fast in ("optimised", "trainer") for base in labels]
    ratios = {pair: {kind: rate[pair[0]] / rate[pair[1]] for kind, rate in rates.items()} for pair in pairs}
    for (fast, base), values in ratios.items():
        line = "  ".join(f"{kind} {ratio:.2f}x" for kind, ratio in values.items())
        line = line.replace("FLOP", "work (1/FLOP)")
        print(f"{fast:>9} vs {labels[base]:<22}: {line}")
    for (fast, base), values in ratios.items():  # the target is about images/s, not FLOPs
        verdict = ", ".join(
            f"{kind} {ratio:.2f}x {'met' if ratio >= TARGET else 'NOT met'}"
            for kind, ratio in values.items()
            if kind != "FLOP"
        )
        print(f"target >= {TARGET}x images/s, {fast} vs {labels[base]}: {verdict}")


if __name__ == "__main__":
    raise SystemExit(main())
