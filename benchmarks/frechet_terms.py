"""The reconstruction Fréchet of training checkpoints, split into its mean and covariance terms.

``training evaluate`` needs an exported model and takes about a minute; this reads
checkpoints (a watcher's copies of a run, for instance) directly and takes seconds each, so a
whole run's trajectory can be measured. The feature space, images and Fréchet are the
evaluation's own (the oracle's penultimate features, ``load_images``, ``gaussian_stats`` and
``frechet_distance``), so the total equals the card's ``real_vs_reconstruction`` on the same
split. The mean term ``|mu_real - mu_recon|^2`` is what a shift of the decoder's output moves;
the covariance term is the spread of features the decoder does not draw.

``--factors`` also prints, per checkpoint, how often the oracle reads the same value of each
attribute and nuisance factor on the reconstruction as on the real face (categorical: the
share that agree; continuous: the correlation), which says what the latent code drops.

    python benchmarks/frechet_terms.py --split val runs/ft4-cont/checkpoints/latest.pt SNAPSHOT.pt ...
    python benchmarks/frechet_terms.py --factors runs/ft-zm-g025-1200/checkpoints/latest.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from training.checkpoint import load_checkpoint, model_from_checkpoint
from training.evaluation import measure
from training.evaluation.evaluate import load_images
from training.evaluation.fidelity import frechet_distance, gaussian_stats
from training.evaluation.oracle.model import OraclePrediction, load_oracle

REPO = Path(__file__).resolve().parents[1]
ORACLE = REPO / "training" / "evaluation" / "weights" / "synthfaces-oracle-64.pt"


@torch.inference_mode()
def reconstruct(checkpoint: Path, images: np.ndarray, batch_size: int = 128) -> tuple[int, np.ndarray]:
    """The run's step and ``D(mean(E(x)))`` of every image, clamped to [0, 1] as exported."""
    ck = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ck)
    x = torch.from_numpy(images)
    parts = [
        model.decoder(model.encoder(x[i : i + batch_size])[0]).clamp(0, 1).numpy() for i in range(0, len(x), batch_size)
    ]
    return int(ck["step"]), np.concatenate(parts)


def terms(real: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Fréchet of two feature sets, its mean term, its covariance term, and ``other``'s variance."""
    m1, c1 = gaussian_stats(real)
    m2, c2 = gaussian_stats(other)
    total = frechet_distance(m1, c1, m2, c2)
    mean_term = float(((m1 - m2) ** 2).sum())
    return {"frechet": total, "mean_term": mean_term, "cov_term": total - mean_term, "trace": float(np.trace(c2))}


def factor_agreement(real: OraclePrediction, recon: OraclePrediction) -> dict[str, float | None]:
    """Per attribute the share of faces the oracle reads alike on both; per nuisance factor
    what :func:`training.evaluation.measure.factor_agreement` says (the card's figure)."""
    out = {name: float(np.mean(real.labels[name] == recon.labels[name])) for name in real.labels}
    return out | measure.factor_agreement(real, recon, list(real.nuisance))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--n-images", type=int, default=512, help="as the card (512)")
    parser.add_argument("--oracle", type=Path, default=ORACLE)
    parser.add_argument("--factors", action="store_true", help="also what each reconstruction keeps, per factor")
    args = parser.parse_args(argv)
    oracle = load_oracle(args.oracle)
    data = load_images(args.split, oracle.image_size, args.n_images)
    read = oracle.predict(data.images)
    real = read.features
    reference = oracle.features(load_images(args.split, oracle.image_size, args.n_images, start=args.n_images).images)
    floor = terms(real, reference)
    print(
        f"real vs the next {args.n_images} real faces: Fréchet {floor['frechet']:.1f}, mean term {floor['mean_term']:.1f}"
    )
    print(f"feature variance (trace) of the real faces: {np.trace(gaussian_stats(real)[1]):.1f}")
    print("step    Fréchet  mean term  cov term  trace      L1  checkpoint")
    for path in args.checkpoints:
        step, recon = reconstruct(path, data.images)
        read_recon = oracle.predict(recon)
        t = terms(real, read_recon.features)
        l1 = float(np.abs(recon - data.images).mean())
        print(
            f"{step:>5} {t['frechet']:>9.1f} {t['mean_term']:>10.1f} {t['cov_term']:>9.1f} {t['trace']:>6.1f} {l1:.4f}  {path}"
        )
        if args.factors:
            kept = factor_agreement(read, read_recon)
            print("       kept: " + ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in kept.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
