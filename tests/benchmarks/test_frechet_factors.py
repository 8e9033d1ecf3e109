"""benchmarks/frechet_factors.py: averaging a factor out changes the faces only where the
factor is drawn, and the script prices a factor both ways on a few faces."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import frechet_factors  # noqa: E402  (benchmarks/ is not a package)

from training.data.synthfaces.dataset import SynthFaces  # noqa: E402


def test_values_cover_every_class_and_the_continuous_range():
    assert frechet_factors.factor_values("hair_style") == [0, 1, 2]
    assert frechet_factors.factor_values("scale") == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_averaging_out_the_background_keeps_the_face_and_blends_the_background():
    ds = SynthFaces("val", 64, length=2, seed=0)
    real = frechet_factors.render(ds, 2, {})
    averaged = frechet_factors.averaged_over(ds, 2, "background")
    changed = np.abs(averaged - real).max(axis=1) > 1e-3  # (N, S, S)
    assert changed[:, 0, 0].all()  # a corner is background
    assert not changed[:, 32, 32].any()  # the centre is face


def test_it_prints_one_row_per_factor(capsys):
    args = ["--n-images", "8", "--factors", "eye_color", "scale"]
    assert frechet_factors.main(args) == 0
    assert frechet_factors.main([*args, "--hold"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith(("eye_color", "scale"))]
    assert [row[0] for row in rows] == ["eye_color", "scale", "eye_color", "scale"]
    assert all(float(row[1]) >= 0 for row in rows)
