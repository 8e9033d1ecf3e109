"""Rendering speed of synthfaces on ONE CPU core (target: >= 2,000 images/s at 64x64).

One thread: Pillow draws single-threaded and torch.set_num_threads(1). Three paths are
timed after a warm-up, as images/s of wall-clock time and of this process's CPU time:
  render      render_face(..., with_masks=False)      PIL image only
  dataset     SynthFaces[i]                           what training reads: (image, labels) tensors
  targets     SynthFaces(return_targets=True)[i]      + attributes, nuisance and masks (evaluation)

    python benchmarks/bench_synthfaces.py [--size 64] [--n 4000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from training.data.synthfaces.dataset import SynthFaces, render_face

TARGET = 2000.0


def rate(fn, n: int) -> tuple[float, float]:
    """(images/s of wall-clock time, images/s of this process's CPU time).

    On a busy shared machine the wall-clock figure is pulled down by other processes;
    CPU time counts only the core this process actually got.
    """
    for i in range(min(200, n)):  # warm-up: caches, allocator, lazy imports
        fn(i)
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n", type=int, default=4000, help="images per measurement")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    plain = SynthFaces("train", image_size=args.size, length=args.n, seed=args.seed)
    full = SynthFaces("train", image_size=args.size, length=args.n, seed=args.seed, return_targets=True)
    results = {
        "render": rate(lambda i: render_face(args.seed, i, args.size, with_masks=False), args.n),
        "dataset": rate(plain.__getitem__, args.n),
        "targets": rate(full.__getitem__, args.n),
    }
    print(f"synthfaces {args.size}x{args.size}, 1 core, torch threads={torch.get_num_threads()}, n={args.n}")
    for name, (wall, cpu) in results.items():
        print(
            f"  {name:8s} {wall:7.0f} images/s wall, {cpu:7.0f} images/s CPU time"
            f"   ({wall / TARGET:.2f}x / {cpu / TARGET:.2f}x the {TARGET:.0f}/s target)"
        )


if __name__ == "__main__":
    main()
