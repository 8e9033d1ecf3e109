"""What each synthfaces factor a decoder does not draw costs in the reconstruction Fréchet.

The card's Fréchet compares the oracle's penultimate features of real faces with those of
their reconstructions. ``frechet_terms.py --factors`` shows which factors a reconstruction
loses (eye colour, for one, is at chance on the shipped model). This prices each loss without
any model. It renders the same held-out faces again once per value of one factor (each of
the four eye colours, or five points of a continuous range) and averages those renders pixel
by pixel: the face a decoder draws when its code does not carry that factor and it minimises
the pixel error. It then measures the Fréchet of the real faces against those averages, with
its mean and covariance terms as in ``frechet_terms.py``. ``--hold`` prices the other way a
decoder can lose a factor: it draws one value for every face. Each value is tried, and the
value whose renders come nearest the real faces is reported. A factor whose loss costs little
cannot explain a Fréchet far above the floor; one that costs a lot says where a better model
must improve.

    python benchmarks/frechet_factors.py --split val --n-images 512
    python benchmarks/frechet_factors.py --factors eye_color clothing --n-images 64
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from training.data.synthfaces.dataset import SynthFaces
from training.data.synthfaces.truth import NUISANCE_SPEC
from training.evaluation.fidelity import frechet_distance, gaussian_stats
from training.evaluation.oracle.model import load_oracle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from frechet_terms import ORACLE  # noqa: E402  (benchmarks/ is not a package)

CONTINUOUS_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def factor_values(name: str) -> list[float | int]:
    """Every class of a categorical factor, or evenly spaced points of a continuous one."""
    kind, classes = NUISANCE_SPEC[name]
    return list(range(classes)) if kind == "categorical" else list(CONTINUOUS_POINTS)


def render(ds: SynthFaces, n: int, overrides: dict[str, float | int]) -> np.ndarray:
    """Items ``0 .. n`` of ``ds`` as (N, 3, S, S) floats in [0, 1], with ``overrides`` applied."""
    images = [np.asarray(ds.render(i, **overrides).image, dtype=np.float32) / 255.0 for i in range(n)]
    return np.stack(images).transpose(0, 3, 1, 2)


def averaged_over(ds: SynthFaces, n: int, name: str) -> np.ndarray:
    """The faces with factor ``name`` averaged out: the pixel mean of one render per value."""
    return np.mean([render(ds, n, {name: value}) for value in factor_values(name)], axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--n-images", type=int, default=512, help="as the card (512)")
    parser.add_argument("--factors", nargs="+", default=list(NUISANCE_SPEC), choices=list(NUISANCE_SPEC))
    parser.add_argument("--hold", action="store_true", help="every face drawn with one value (the nearest)")
    parser.add_argument("--oracle", type=Path, default=ORACLE)
    args = parser.parse_args(argv)
    oracle = load_oracle(args.oracle)
    ds = SynthFaces(args.split, oracle.image_size, length=args.n_images, seed=0)
    m_real, c_real = gaussian_stats(oracle.features(render(ds, args.n_images, {})))
    how = "held at one value" if args.hold else "averaged out"
    print(f"{args.n_images} {args.split} faces against the same faces with one factor {how}")
    print("factor              Fréchet  mean term  cov term" + ("  value" if args.hold else ""))

    def measure(images: np.ndarray) -> tuple[float, float]:
        m, c = gaussian_stats(oracle.features(images))
        return frechet_distance(m_real, c_real, m, c), float(((m_real - m) ** 2).sum())

    for name in args.factors:
        if args.hold:
            tried = {value: measure(render(ds, args.n_images, {name: value})) for value in factor_values(name)}
            value, (total, mean_term) = min(tried.items(), key=lambda item: item[1][0])
            print(f"{name:<18} {total:>8.1f} {mean_term:>10.1f} {total - mean_term:>9.1f}  {value}")
        else:
            total, mean_term = measure(averaged_over(ds, args.n_images, name))
            print(f"{name:<18} {total:>8.1f} {mean_term:>10.1f} {total - mean_term:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
