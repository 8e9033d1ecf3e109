"""Out-of-domain signal: how well the typicality scores separate the model's data from the rest.

In-distribution: held-out synthfaces (the test split; the calibration used the val split).
Out of distribution: real photos that scikit-image ships (the astronaut portrait, the cat,
the coffee cup, LFW face crops, ...) and random square crops of them, noise and flat images.
Every image goes through the service's own decoding (PNG bytes -> centre square -> model
input) and the served ONNX engine, then :func:`service.runtime.pipeline.typicality_of`'s
scores. Prints the AUROC of each score (1.0 = perfect separation; in-distribution should
score higher) and the flag rates at the manifest's threshold.

    python benchmarks/bench_ood.py --model models/synthfaces-introvac-64
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.imaging.decode import decode_image
from service.latent.prior import load_model_prior
from service.latent.typicality import assess, log_density, reconstruction_error
from service.runtime.engine import load_engine
from training.data.synthfaces.dataset import SynthFaces

PHOTOS = ("astronaut", "chelsea", "coffee", "camera", "rocket", "immunohistochemistry", "hubble_deep_field", "coins")


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def out_of_domain(rng: np.random.Generator, crops_per_photo: int) -> dict[str, list[bytes]]:
    """Groups of PNG uploads that are not synthfaces."""
    from skimage import data

    photos = {}
    for name in PHOTOS:
        try:
            photos[name] = np.asarray(getattr(data, name)())
        except Exception as exc:  # noqa: BLE001  (a dataset that needs a download is skipped)
            print(f"skipping skimage.data.{name}: {exc}", file=sys.stderr)
    groups: dict[str, list[bytes]] = {"photos": [png(p) for p in photos.values()], "photo crops": []}
    for image in photos.values():
        h, w = image.shape[:2]
        for _ in range(crops_per_photo):
            side = int(rng.integers(min(h, w) // 4, min(h, w) + 1))
            top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            groups["photo crops"].append(png(image[top : top + side, left : left + side]))
    try:
        groups["lfw faces"] = [png((f * 255).astype(np.uint8)) for f in data.lfw_subset()[:100]]
    except Exception as exc:  # noqa: BLE001
        print(f"skipping skimage.data.lfw_subset: {exc}", file=sys.stderr)
    groups["noise"] = [png(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)) for _ in range(32)]
    groups["flat"] = [png(np.full((64, 64, 3), rng.integers(0, 256, 3), np.uint8)) for _ in range(16)]
    return groups


def auroc(inside: np.ndarray, outside: np.ndarray) -> float:
    """P(score of an in-distribution image > score of an outside one), ties counted half."""
    greater = (inside[:, None] > outside[None, :]).mean()
    ties = (inside[:, None] == outside[None, :]).mean()
    return float(greater + 0.5 * ties)


def scores(engine, prior, info, uploads: list[bytes]) -> dict[str, np.ndarray]:
    m = engine.manifest
    images = np.stack([decode_image(u, m.image_size, 40_000_000, m.value_range).model_input for u in uploads])
    mean, _ = engine.encode(images)
    recon = engine.decode(mean)
    density = log_density(mean, prior)
    error = reconstruction_error(images, recon)
    verdicts = [assess(log_density_value=d, error_value=e, info=info) for d, e in zip(density, error, strict=True)]
    w = np.array([r.weight for r in m.attributes] + [m.fake_logit.weight], np.float64)
    b = np.array([r.bias for r in m.attributes] + [m.fake_logit.bias], np.float64)
    realness = 1.0 / (1.0 + np.exp(mean.astype(np.float64) @ w[-1] + b[-1]))
    return {
        "log-density": density,
        "-reconstruction error": -error,
        "realness": realness,
        "typicality percentile": np.array([v.percentile for v in verdicts]),
        "in_distribution": np.array([v.in_distribution for v in verdicts]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", type=Path, default=Path("models/synthfaces-introvac-64"))
    p.add_argument("--n-faces", type=int, default=512, help="held-out synthfaces (test split)")
    p.add_argument("--crops-per-photo", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    engine = load_engine(args.model, "onnx", max_batch_size=256, intra_op_threads=1)
    info = engine.manifest.typicality
    if info is None:
        print(f"{args.model} has no typicality calibration: run `python -m training fit-prior` first", file=sys.stderr)
        return 2
    prior = load_model_prior(args.model, engine.manifest) if info.prior == "fitted" else None
    faces = SynthFaces("test", image_size=engine.manifest.image_size)
    inside_uploads = [
        png((faces[i][0].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)) for i in range(args.n_faces)
    ]
    inside = scores(engine, prior, info, inside_uploads)
    groups = out_of_domain(np.random.default_rng(args.seed), args.crops_per_photo)
    print(
        f"model {engine.manifest.name}; threshold percentile {info.threshold_percentile:g}; in-distribution: "
        f"{args.n_faces} held-out synthfaces, flagged out {100 * (1 - inside['in_distribution'].mean()):.1f}%"
    )
    everything = {k: np.concatenate([scores(engine, prior, info, g)[k] for g in groups.values()]) for k in inside}
    for label, uploads in [*groups.items(), ("all out-of-domain", None)]:
        out = everything if uploads is None else scores(engine, prior, info, uploads)
        n = len(out["in_distribution"])
        figures = "  ".join(
            f"{k} {auroc(inside[k], out[k]):.3f}"
            for k in ("log-density", "-reconstruction error", "realness", "typicality percentile")
        )
        print(
            f"{label:>17} (n={n:3d}): flagged out {100 * (1 - out['in_distribution'].mean()):5.1f}%   AUROC {figures}"
        )
    top_out = float(everything["typicality percentile"].max())
    held = np.sort(inside["typicality percentile"])
    print(
        f"typicality percentile: highest out-of-domain {top_out:.3f}; held-out synthfaces below it "
        f"{100 * (held < top_out).mean():.1f}%, held-out quantiles 1% {np.quantile(held, 0.01):.3f} 5% {np.quantile(held, 0.05):.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
