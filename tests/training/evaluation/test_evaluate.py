"""End to end: evaluate the exported tiny model (ONNX, through service.runtime.engine) with a tiny oracle."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from service.artifact import ArtifactError
from service.runtime.engine import load_engine
from training.data.synthfaces.dataset import NUISANCE_SPEC, SYNTH_ATTRIBUTES
from training.evaluation import fidelity as M
from training.evaluation.evaluate import EvaluationError, evaluate, load_images
from training.evaluation.oracle.model import Oracle, OracleNet, default_layers, save_oracle

TINY_ATTRS = ("eyeglasses", "facial_hair")
TOP_KEYS = {
    "format",
    "model",
    "oracle",
    "config",
    "reconstruction",
    "edits",
    "generation",
    "generation_fitted_prior",
    "frechet",
    "inception_fid",
    "figures",
    "timings_s",
}
EDIT_ROW_KEYS = {
    "success",
    "success_add",
    "success_remove",
    "classifier_success",
    "mean_abs_delta",
    "other_flip_rate",
    "other_flips",
    "nuisance_change",
    "l1",
    "l1_outside_mask",
}


def _leaves(node, path=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, node


def test_report_files_are_written_and_match(tiny_eval):
    report, out = tiny_eval
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    md = (out / "report.md").read_text()
    for heading in (
        "## Reconstruction",
        "## Edits",
        "## Generation with N(0, I)",
        "## Generation with the fitted",
        "## Oracle",
        "### eyeglasses",
        "### facial_hair",
    ):
        assert heading in md


def test_report_has_every_key_and_only_finite_numbers(tiny_eval, tiny_eval_settings):
    TINY_EVAL = tiny_eval_settings
    report, _ = tiny_eval
    assert set(report) == TOP_KEYS
    assert report["inception_fid"] is None  # no weights given
    # a sampler that accepted nothing has no oracle accuracy (the untrained tiny model's fitted prior
    # only holds faces its classifier calls "eyeglasses"): that figure alone may be None
    empty = {
        f".{block}.{name}.{cond}.{sampler}.oracle_accuracy"
        for block in ("generation", "generation_fitted_prior")
        for name in TINY_ATTRS
        for cond in ("present", "absent")
        for sampler in ("langevin", "exact")
        if report[block][name][cond][sampler]["n"] == 0
    }
    for path, value in _leaves({k: v for k, v in report.items() if k != "inception_fid"}):
        assert value is not None or path == ".model.git_commit" or path in empty, f"{path} is missing"
        assert path not in empty or value is None
        if isinstance(value, float):
            assert math.isfinite(value), f"{path} = {value}"
    assert set(report["edits"]) == set(TINY_ATTRS)
    for name in TINY_ATTRS:
        e = report["edits"][name]
        assert e["n_add"] + e["n_remove"] == TINY_EVAL["n_images"] and e["has_mask"]
        for mode in ("plain", "conditional"):
            assert set(e[mode]) == {"1", "3", "auto"}
            for row in e[mode].values():
                assert set(row) == EDIT_ROW_KEYS
                assert set(row["other_flips"]) == set(SYNTH_ATTRIBUTES) - {name}
                assert 0.0 <= row["success"] <= 1.0 and row["l1_outside_mask"] <= row["l1"] * 2
        assert e["plain"]["3"]["mean_abs_delta"] == 3.0
    for block in ("generation", "generation_fitted_prior"):  # the tiny model has a fitted prior
        for name in TINY_ATTRS:
            for cond in ("present", "absent"):
                for sampler in ("langevin", "exact"):
                    s = report[block][name][cond][sampler]
                    assert s["requested"] == TINY_EVAL["n_samples"] and 0 <= s["acceptance_rate"] <= 1
                    assert (s["n"] == 0) == (s["acceptance_rate"] == 0)
        assert set(report[block]["prior_rate"]) == set(SYNTH_ATTRIBUTES)
    f = report["frechet"]
    assert f["real_vs_reconstruction"] > 0 and f["real_vs_prior_samples"] > 0 and f["real_vs_real_reference"] > 0
    assert f["real_vs_fitted_prior_samples"] > 0 and f["real_vs_fitted_prior_samples"] != f["real_vs_prior_samples"]
    assert report["config"]["langevin_steps"] == TINY_EVAL["langevin_steps"]
    assert report["model"]["backend"] == "onnx" and report["model"]["attributes"] == list(TINY_ATTRS)


def test_reconstruction_figures_are_those_of_the_served_model(tiny_eval, tiny_eval_settings, tiny_model_dir: Path):
    """Recompute L1 / PSNR / SSIM independently through the ONNX engine on the same faces."""
    report, _ = tiny_eval
    engine = load_engine(tiny_model_dir, "onnx")
    data = load_images("test", 16, tiny_eval_settings["n_images"])
    recon = engine.decode(engine.encode(data.images)[0])
    r = report["reconstruction"]
    assert r["l1"] == pytest.approx(float(M.l1(data.images, recon).mean()), rel=1e-5)
    assert r["psnr"] == pytest.approx(float(M.psnr(data.images, recon).mean()), rel=1e-5)
    assert r["ssim"] == pytest.approx(float(M.ssim(data.images, recon).mean()), rel=1e-4, abs=1e-6)
    assert r["l1"] > 0.01  # an untrained model does not reconstruct


def test_figures_exist_with_the_paper_layouts(tiny_eval, tiny_eval_settings):
    report, out = tiny_eval
    k = tiny_eval_settings["figure_images"]
    cell = 64 + 2  # 16 px enlarged 4x, plus the grid padding
    for kind, rows, cols in (
        ("edit_triplets", 3, k),
        ("traversals", min(k, 4), 14),
        ("langevin_samples", 2, k),
        ("langevin_samples_fitted_prior", 2, k),
    ):
        assert set(report["figures"][kind]) == set(TINY_ATTRS)
        for rel in report["figures"][kind].values():
            with Image.open(out / rel) as img:
                assert img.format == "PNG" and img.size == (cols * cell + 2, rows * cell + 2)


def test_oracle_of_another_size_is_refused(tmp_path: Path, tiny_model_dir: Path):
    oracle = Oracle(OracleNet(SYNTH_ATTRIBUTES, NUISANCE_SPEC, default_layers(32)), 32, NUISANCE_SPEC)
    path = save_oracle(tmp_path / "o32.pt", oracle)
    with pytest.raises(EvaluationError, match="train an oracle at that size"):
        evaluate(tiny_model_dir, path, tmp_path / "out", n_images=2, langevin_steps=1)


def test_oracle_that_cannot_judge_an_attribute_is_refused(tmp_path: Path, tiny_model_dir: Path):
    oracle = Oracle(OracleNet(("male",), NUISANCE_SPEC, default_layers(16)), 16, NUISANCE_SPEC)
    path = save_oracle(tmp_path / "male.pt", oracle)
    with pytest.raises(EvaluationError, match="cannot judge"):
        evaluate(tiny_model_dir, path, tmp_path / "out", n_images=2, langevin_steps=1)


def test_bad_settings_and_missing_model(tmp_path: Path, tiny_model_dir: Path, tiny_oracle_path: Path):
    with pytest.raises(EvaluationError, match="n_images"):
        evaluate(tiny_model_dir, tiny_oracle_path, tmp_path, n_images=1)
    with pytest.raises(EvaluationError, match="langevin_step_size"):
        evaluate(tiny_model_dir, tiny_oracle_path, tmp_path, langevin_step_size=0)
    with pytest.raises(ArtifactError, match="does not exist"):
        evaluate(tmp_path / "nope", tiny_oracle_path, tmp_path)
    assert not (tmp_path / "report.json").exists()


def test_load_images_is_deterministic_and_disjoint():
    a = load_images("test", 16, 3)
    b = load_images("test", 16, 3, start=3)
    assert np.array_equal(a.images, load_images("test", 16, 3).images)
    assert not np.array_equal(a.images, b.images)
    assert set(a.truth) == set(SYNTH_ATTRIBUTES) and a.masks["eyeglasses"].shape == (3, 16, 16)


def test_stage_timer_shows_each_stage_and_times_it(capsys):
    from training.evaluation.evaluate import STAGES, StageTimer

    stage = StageTimer(progress=True)
    for name in STAGES:
        with stage(name):
            pass
    timings = stage.close()
    assert list(timings) == [*STAGES, "total"] and all(t >= 0 for t in timings.values())
    err = capsys.readouterr().err
    assert all(f"evaluate: {name}" in err for name in STAGES) and f"{len(STAGES)}/{len(STAGES)}" in err


def test_the_report_times_every_stage(tiny_eval):
    from training.evaluation.evaluate import STAGES

    report, _ = tiny_eval
    assert list(report["timings_s"]) == [*STAGES, "total"]


def test_a_file_that_is_not_a_report_is_one_clear_error(tmp_path):
    from training.evaluation.evaluate import EvaluationError, load_report

    for name, text in (("empty.json", "{}"), ("list.json", "[1]")):
        (tmp_path / name).write_text(text)
        with pytest.raises(EvaluationError, match="not an evaluation report"):
            load_report(tmp_path / name)  # export and card raised KeyError / TypeError on these


def test_a_report_of_another_model_is_refused():
    from training.evaluation.evaluate import EvaluationError, check_report_matches

    report = {"model": {"image_size": 64, "latent_dim": 64, "attributes": ["bald"]}}
    check_report_matches(report, image_size=64, latent_dim=64, attributes=("bald",))
    with pytest.raises(EvaluationError, match="another model"):
        check_report_matches(report, image_size=16, latent_dim=64, attributes=("bald",))
    with pytest.raises(EvaluationError, match="another model"):
        check_report_matches(report, image_size=64, latent_dim=64, attributes=("eyeglasses",))
