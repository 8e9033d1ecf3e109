"""Cost of /generate's Langevin sampler against one decode, the old numpy chain next to the new one.

Times ``langevin_sample`` (what GET /generate runs before decoding) with the paper's
settings (5000 steps of alpha 2e-4; the service's rejection rounds; the first attribute
present unless --attribute) on the model's classifier, for n=1 and n=8 and both priors
(the fitted one when the model has it, and ``standard`` = N(0, I)), once with the
reference chain (service/latent/langevin_reference.py: all D coordinates stepped with
numpy, the implementation before issue 13) and once with the service's (compiled, and for
N(0, I) reduced to span(w); same chain law). Each figure is the p50 of --repeats runs on
seeds 0, 1, ..., divided by the p50 of one decode of the same model through
``load_engine(model_dir, "onnx")`` with one intra-op thread on the CPU.

    python benchmarks/bench_generate.py                                # shipped model, paper settings
    python benchmarks/bench_generate.py --steps 50 --repeats 2 --json /tmp/g.json   # seconds (smoke test)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.artifact import ArtifactError, read_manifest  # noqa: E402
from service.latent import sampling  # noqa: E402
from service.latent.edit import LinearClassifier  # noqa: E402
from service.latent.langevin_reference import reference_chains  # noqa: E402
from service.latent.prior import load_model_prior  # noqa: E402
from service.runtime.engine import load_engine  # noqa: E402

DEFAULT_MODEL = REPO / "models" / "synthfaces-introvac-64"
PAPER_STEPS, PAPER_STEP_SIZE = 5000, 2e-4
DECODE_REPEATS = 200


def p50_ms(fn: Callable[[int], object], repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (ms) of ``fn(i)`` for
    i = 0 .. repeats-1, after one untimed call. CPU time is reported too because on a shared
    machine other jobs stretch wall times of long calls (the sampler) more than short ones
    (one decode)."""
    fn(repeats)
    wall, cpu = [], []
    for i in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(i)
        wall.append((time.perf_counter() - start) * 1000.0)
        cpu.append((time.process_time() - start_cpu) * 1000.0)
    return float(np.median(wall)), float(np.median(cpu))


def sampler_figures(classifier, conditions, prior, n: int, args: argparse.Namespace, *, reference: bool) -> dict:
    """p50 and acceptance of ``langevin_sample`` (with the reference chain swapped in if asked)."""
    rates: list[float] = []

    def one(seed: int) -> None:
        res = sampling.langevin_sample(
            classifier,
            conditions,
            n,
            np.random.default_rng(seed),
            steps=args.steps,
            step_size=args.step_size,
            prior=prior,
        )
        rates.append(res.acceptance_rate)

    repeats = args.reference_repeats if reference else args.repeats
    if reference:
        with mock.patch.object(sampling, "langevin_chains", reference_chains):
            ms, cpu_ms = p50_ms(one, repeats)
    else:
        ms, cpu_ms = p50_ms(one, repeats)
    return {"p50_ms": ms, "cpu_p50_ms": cpu_ms, "repeats": repeats, "mean_acceptance": float(np.mean(rates))}


def run(args: argparse.Namespace) -> dict:
    manifest = read_manifest(args.model_dir)
    classifier = LinearClassifier.from_manifest(manifest)
    attribute = args.attribute or manifest.attribute_names[0]
    conditions = {attribute: True}
    engine = load_engine(args.model_dir, "onnx", providers=["CPUExecutionProvider"], intra_op_threads=1)
    z = np.random.default_rng(0).standard_normal((max(args.n), manifest.latent_dim)).astype(np.float32)
    decode_ms, decode_cpu_ms = p50_ms(lambda _i: engine.decode(z[:1]), args.decode_repeats)
    # /generate with n samples decodes n latents in one call: the fair unit for n > 1
    batch_ms = {n: p50_ms(lambda _i, n=n: engine.decode(z[:n]), args.decode_repeats)[0] for n in args.n}
    fitted = load_model_prior(args.model_dir, manifest)
    priors = ({"fitted": fitted} if fitted is not None else {}) | {"standard": None}
    rows = []
    for prior_name, prior in priors.items():
        for n in args.n:
            row = {"prior": prior_name, "n": n}
            for label, reference in (("reference", True), ("fast", False)):
                fig = sampler_figures(classifier, conditions, prior, n, args, reference=reference)
                row[label] = fig | {
                    "vs_decode": fig["p50_ms"] / decode_ms,
                    "cpu_vs_decode": fig["cpu_p50_ms"] / decode_cpu_ms,
                    "vs_decode_of_n": fig["p50_ms"] / batch_ms[n],
                }
            row["speedup"] = row["reference"]["p50_ms"] / row["fast"]["p50_ms"]
            rows.append(row)
    return {
        "model": manifest.name,
        "attribute": attribute,
        "steps": args.steps,
        "step_size": args.step_size,
        "decode_p50_ms": decode_ms,
        "decode_cpu_p50_ms": decode_cpu_ms,
        "decode_of_n_p50_ms": batch_ms,
        "rows": rows,
    }


def report(results: dict) -> None:
    print(
        f"model: {results['model']}, langevin {results['steps']} steps of alpha {results['step_size']:g}, "
        f"conditions {{{results['attribute']}: present}}"
    )
    print(
        f"one decode (onnx, CPUExecutionProvider, 1 intra-op thread, batch 1): p50 {results['decode_p50_ms']:.3f} ms"
        f" (CPU {results['decode_cpu_p50_ms']:.3f} ms)"
    )
    for row in results["rows"]:
        ref, fast = row["reference"], row["fast"]
        print(
            f"prior {row['prior']:<8} n={row['n']:<2} reference p50 {ref['p50_ms']:8.2f} ms = {ref['vs_decode']:6.1f}x"
            f" decode | fast p50 {fast['p50_ms']:7.2f} ms = {fast['vs_decode']:5.1f}x decode | speed-up "
            f"{row['speedup']:.1f}x | acceptance {ref['mean_acceptance']:.3f} / {fast['mean_acceptance']:.3f}"
        )
        print(
            f"{'':<17}CPU time: reference {ref['cpu_p50_ms']:8.2f} ms = {ref['cpu_vs_decode']:6.1f}x decode CPU"
            f" | fast {fast['cpu_p50_ms']:7.2f} ms = {fast['cpu_vs_decode']:5.1f}x decode CPU"
        )
        print(
            f"{'':<17}against one decode of the n latents ({results['decode_of_n_p50_ms'][row['n']]:.3f} ms):"
            f" fast {fast['vs_decode_of_n']:5.1f}x"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL, help="model folder (default: the shipped model)")
    p.add_argument("--attribute", default=None, help="attribute the samples must have (default: the first)")
    p.add_argument("--n", type=int, nargs="+", default=[1, 8], help="samples per call (default: 1 8)")
    p.add_argument("--steps", type=int, default=PAPER_STEPS, help=f"Langevin steps (default {PAPER_STEPS})")
    p.add_argument("--step-size", type=float, default=PAPER_STEP_SIZE, help="Langevin step size alpha")
    p.add_argument("--repeats", type=int, default=15, help="timed calls of the fast sampler per figure")
    p.add_argument("--reference-repeats", type=int, default=5, help="timed calls of the reference per figure")
    p.add_argument("--decode-repeats", type=int, default=DECODE_REPEATS, help="timed decodes")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = p.parse_args(argv)
    for name in ("repeats", "reference_repeats", "decode_repeats", "steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except (ArtifactError, OSError, ValueError) as exc:
        print(f"bench_generate: error: {exc}", file=sys.stderr)
        return 1
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
