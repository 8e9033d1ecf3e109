"""benchmarks/bench_train_step.py runs end to end on a tiny model and reports every version,
the ratios against both baselines and the edit-consistency term's cost."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_train_step.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_train_step", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_prints_every_version_and_the_edit_term_cost(capsys):
    bench = _bench()
    argv = ["--image-size", "16", "--channels", "4", "8", "--latent", "8", "--batch", "2", "--steps", "1",
            "--warmup", "0", "--attributes", "2"]  # fmt: skip
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    for name in bench.VERSIONS:
        assert f"{name}: wall" in out
    assert "trainer vs public-ref pattern" in out and "edit-consistency term (trainer+edit vs trainer)" in out


def test_bad_arguments_are_refused(capsys):
    assert _bench().main(["--image-size", "18"]) == 2
    assert "error" in capsys.readouterr().err
