"""Markdown views of a report: the full table and the VAC vs IntroVAC comparison."""

from __future__ import annotations

import copy

import pytest

from training.evaluation.report import (
    PAPER_FID_RATIO,
    compare_table,
    fmt,
    markdown_table,
    summary,
)


def test_fmt_cells():
    assert fmt(None) == "–"
    assert fmt(0.5, percent=True) == "50.0%"
    assert fmt(12.3456, 3) == "12.3"
    assert fmt(1.5e-5) == "1.50e-05"
    assert fmt(True) == "yes"


def test_markdown_table_shows_the_reports_numbers(tiny_eval):
    report, _ = tiny_eval
    md = markdown_table(report)
    r = report["reconstruction"]
    assert f"| L1 | {fmt(r['l1'], 4)} |" in md
    assert f"| SSIM | {fmt(r['ssim'], 4)} |" in md
    success = report["edits"]["eyeglasses"]["plain"]["3"]["success"]
    row = next(line for line in md.splitlines() if line.startswith("| 3 |"))
    assert row.split(" | ")[1] == fmt(success, percent=True)
    assert md.count("| eyeglasses |") >= 3  # two generation rows and one oracle row


def test_the_report_says_what_each_reconstruction_keeps_of_the_other_factors(tiny_eval):
    report, _ = tiny_eval
    kept = report["reconstruction"]["factors_kept"]
    assert "eye_color" in kept and "clothing" in kept
    assert "glasses_style" not in kept  # only drawn with eyeglasses: not comparable on every face
    assert all(v is None or -1.0 <= v <= 1.0 for v in kept.values())
    line = next(x for x in markdown_table(report).splitlines() if x.startswith("What each reconstruction keeps"))
    assert f"eye_color {fmt(kept['eye_color'])}" in line


def test_summary_averages_over_attributes(tiny_eval):
    report, _ = tiny_eval
    s = summary(report)
    expected = sum(report["edits"][n]["plain"]["3"]["success"] for n in ("eyeglasses", "facial_hair")) / 2
    # recommended deltas of the tiny model are 3 (eyeglasses) and 4 (facial_hair): nearest evaluated rows are 3 and 3
    assert s["edit success, recommended delta, plain"] == pytest.approx(expected)
    assert s["Fréchet real vs reconstruction"] == report["frechet"]["real_vs_reconstruction"]


def test_compare_table_reports_the_reconstruction_frechet_ratio(tiny_eval):
    vac, _ = tiny_eval
    intro = copy.deepcopy(vac)
    intro["model"]["name"] = "better"
    intro["frechet"]["real_vs_reconstruction"] = vac["frechet"]["real_vs_reconstruction"] * 0.25
    text = compare_table(vac, intro, "VAC", "IntroVAC")
    assert "| VAC (`tiny`) | IntroVAC (`better`) |" in text
    assert "Reconstruction Fréchet distance ratio IntroVAC/VAC: 0.25 " in text
    assert f"= {PAPER_FID_RATIO:.2f}" in text and "0.40" in text
    line = next(x for x in text.splitlines() if x.startswith("| Fréchet real vs reconstruction"))
    assert line.rstrip(" |").endswith("0.25")


def test_evaluation_summary_fits_the_manifest_and_keeps_the_figures(tiny_eval, tiny_model_dir, tmp_path):
    import json
    import shutil

    from service.artifact import Manifest, load_artifact
    from training.evaluation.report import evaluation_summary

    report, _ = tiny_eval
    s = evaluation_summary(report)
    assert s["reconstruction"]["l1"] == report["reconstruction"]["l1"]
    assert s["edit_success_auto"]["facial_hair"] == report["edits"]["facial_hair"]["plain"]["auto"]["success"]
    assert (
        s["other_flips_auto_preserve"]["eyeglasses"]
        == report["edits"]["eyeglasses"]["conditional"]["auto"]["other_flip_rate"]
    )
    assert (
        s["generation_oracle_accuracy"]["eyeglasses"]["absent"]["exact"]
        == (report["generation"]["eyeglasses"]["absent"]["exact"]["oracle_accuracy"])
    )
    # it is JSON and the manifest schema accepts it
    folder = shutil.copytree(tiny_model_dir, tmp_path / "tiny")
    data = json.loads((folder / "manifest.json").read_text())
    data["evaluation"] = json.loads(json.dumps(s))
    Manifest.model_validate(data)
    (folder / "manifest.json").write_text(json.dumps(data))
    loaded = load_artifact(folder)
    assert loaded.name == "tiny"
    assert loaded.evaluation == json.loads(json.dumps(s))


def test_markdown_table_calls_only_other_splits_held_out(tiny_eval):
    report, _ = tiny_eval
    on_train = copy.deepcopy(report)
    on_train["config"]["split"] = "train"
    assert f"held-out `{report['config']['split']}` images" in markdown_table(report)
    text = markdown_table(on_train)
    assert "training `train` images" in text and "held-out" not in text.split("\n## ")[0]
