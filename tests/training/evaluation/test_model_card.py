"""MODEL_CARD.md generated from evaluation reports: sections, numbers, targets, CLI."""

from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from service.artifact import load_artifact
from training.cli import build_parser as build_training_parser
from training.data.synthfaces import truth
from training.evaluation.card_sections import limits_section, preprocessing_section
from training.evaluation.cli import EXIT_BAD_INPUT, build_parser, main
from training.evaluation.model_card import (
    CARD_NAME,
    evaluate_command_of,
    evaluate_targets,
    render_model_card,
    write_model_card,
)
from training.evaluation.report import fmt

CARD_ARGS = {
    "other_label": "VAC",
    "training_command": "python -m training train --mode introvac --epochs 7",
    "other_training_command": "python -m training train --mode vac --epochs 9",
    "hardware": "1x test accelerator",
    "wall_time_s": 3600.0,
    "other_wall_time_s": 1800.0,
    "evaluate_command": "python -m training evaluate --model models/tiny",
}
N_TARGETS = 9  # 3 edit targets, 2 samplers x 2 priors (N(0, I) and fitted), Fréchet ratio and bar


@pytest.fixture
def model_dir(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the shared tiny model (an IntroVAC export)."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "models" / "tiny"))


def good_pair(report: dict) -> tuple[dict, dict]:
    """(IntroVAC, VAC) reports built from the tiny one, on which every target is met."""
    intro = copy.deepcopy(report)
    for e in intro["edits"].values():
        e["plain"]["auto"].update(success=0.99, other_flip_rate=0.10)
        e["conditional"]["auto"].update(success=0.97, other_flip_rate=0.02)
    for block in ("generation", "generation_fitted_prior"):
        for name, per in intro[block].items():
            if name != "prior_rate":
                for s in per.values():
                    s["langevin"]["oracle_accuracy"] = s["exact"]["oracle_accuracy"] = 1.0
    intro["frechet"]["real_vs_reconstruction"] = 1.0
    vac = copy.deepcopy(intro)
    vac["model"].update(name="tiny-vac", mode="vac")
    vac["frechet"]["real_vs_reconstruction"] = 2.5
    return intro, vac


def statuses(report: dict, other: dict | None) -> list[str]:
    return [t.status for t in evaluate_targets(report, other)]


def test_card_has_every_section_the_numbers_and_still_validates(model_dir: Path, tiny_eval):
    report, out = tiny_eval
    intro, vac = good_pair(report)
    vac_dir = Path(shutil.copytree(out, model_dir.parent.parent / "vac-eval"))
    path = write_model_card(model_dir, intro, vac, report_dir=out, other_report_dir=vac_dir, **CARD_ARGS)
    assert path == model_dir / CARD_NAME
    card = path.read_text(encoding="utf-8")
    for heading in (
        "## Targets",
        "## Data",
        "## Attribute definitions",
        "## Preprocessing",
        "## Architecture",
        "## Training",
        "## Evaluation",
        "## VAC vs IntroVAC",
        "### The VAC model",
        "## Limits",
        "## Licence",
    ):
        assert f"\n{heading}\n" in card, heading
    assert "Apache-2.0" in card and "shape_predictor_5_face_landmarks.dat" in card
    assert "Out-of-domain images are flagged" in card  # tiny's fit-prior calibrated its typicality
    # the metrics table of the shipped model, and the other model's figures too
    r = intro["reconstruction"]
    assert card.count(f"| L1 | {fmt(r['l1'], 4)} |\n") == 2  # one row in each model's table
    assert "#### Edits" in card and "###### eyeglasses" in card  # nested, not new top-level sections
    assert "| Fréchet real vs reconstruction | 2.5 | 1 | 0.4 |" in card
    assert "Reconstruction Fréchet distance ratio IntroVAC/VAC: 0.4 " in card
    # commands, time, hardware, limits
    for text in (
        CARD_ARGS["training_command"],
        CARD_ARGS["other_training_command"],
        CARD_ARGS["evaluate_command"],
        "wall time 3600 s (1.00 h), on 1x test accelerator",
        "Wall time 1800 s (0.50 h)",
        "Drawn faces, not photos",
        "train on CelebA",
        "template `synthfaces-render`",  # the manifest's alignment, not a centre crop
    ):
        assert text in card, text
    # attribute definitions from the manifest and the data's priors
    assert re.search(r"\| `eyeglasses` \| 0 \| 3 \| .* \| 30%, independent \| yes \|", card)
    assert re.search(r"\| `facial_hair` \| 1 \| 4 \| .*of men", card)
    assert f"{truth.P_FACIAL_HAIR_MALE:.0%} of men" in card
    # every linked figure was copied into the model folder, both models' figures are linked
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", card)
    assert len(links) == 2 * sum(len(v) for v in report["figures"].values())
    assert all((model_dir / link).is_file() for link in links)
    assert any(link.startswith("figures/vac/") for link in links)
    # MODEL_CARD.md and figures/ are not in the manifest: the folder still validates
    manifest = load_artifact(model_dir)
    assert CARD_NAME not in {f.name for f in manifest.files.values()}
    # a new card without the VAC figures drops the old ones instead of linking stale files
    card = write_model_card(model_dir, intro, vac, report_dir=out, **CARD_ARGS).read_text(encoding="utf-8")
    assert "figures/vac/" not in card and not (model_dir / "figures" / "vac").exists()
    assert (model_dir / "figures" / "edit_triplets_eyeglasses.png").is_file()


def test_every_target_is_met_on_good_reports(tiny_eval):
    intro, vac = good_pair(tiny_eval[0])
    assert statuses(intro, vac) == ["met"] * N_TARGETS
    assert statuses(vac, intro)[-2] == "met"  # the Fréchet ratio compares IntroVAC with VAC whichever is shipped


def _set_edit(r, mode, key, value, name="facial_hair"):
    r["edits"][name][mode]["auto"][key] = value


def _set_flips(r, plain, conditional):
    for name in r["edits"]:
        _set_edit(r, "plain", "other_flip_rate", plain, name)
        _set_edit(r, "conditional", "other_flip_rate", conditional, name)


def _set_sample(r, sampler, value, block="generation"):
    r[block]["eyeglasses"]["absent"][sampler]["oracle_accuracy"] = value


def _set_frechet(intro, vac, value_intro, value_vac):
    intro["frechet"]["real_vs_reconstruction"] = value_intro
    vac["frechet"]["real_vs_reconstruction"] = value_vac


MISSES = {  # target index -> change (IntroVAC, VAC) that must make only that target miss, and the card's figure
    0: (lambda r, _: _set_edit(r, "plain", "success", 0.94), "worst 94.0% (facial_hair)"),
    1: (lambda r, _: _set_edit(r, "conditional", "other_flip_rate", 0.04), "worst 4.0% (facial_hair)"),
    2: (lambda r, _: _set_flips(r, plain=0.02, conditional=0.03), "3.0% with preserve vs 2.0% without"),
    3: (lambda r, _: _set_sample(r, "langevin", 0.9), "worst 90.0% (eyeglasses absent)"),
    4: (lambda r, _: _set_sample(r, "exact", None), "worst – (eyeglasses absent)"),  # no sample accepted
    5: (lambda r, _: _set_sample(r, "langevin", 0.5, "generation_fitted_prior"), "worst 50.0% (eyeglasses absent)"),
    6: (lambda r, _: _set_sample(r, "exact", 0.8, "generation_fitted_prior"), "worst 80.0% (eyeglasses absent)"),
    7: (lambda r, v: _set_frechet(r, v, 1.01, 2.5), "IntroVAC 1.01 vs VAC 2.5, ratio 0.40"),  # 0.404: just over
    8: (lambda r, v: _set_frechet(r, v, 100.5, 1000.0), "100.5"),  # the ratio (0.10) alone would pass it
}


@pytest.mark.parametrize("index", sorted(MISSES))
def test_a_target_that_is_missed_says_missed(index: int, tiny_eval, model_dir: Path):
    intro, vac = good_pair(tiny_eval[0])
    change, figure = MISSES[index]
    change(intro, vac)
    expected = ["met"] * N_TARGETS
    expected[index] = "missed"
    assert statuses(intro, vac) == expected
    card = render_model_card(model_dir, intro, vac, **CARD_ARGS)
    targets = card.split("## Targets\n")[1].split("\n## ")[0]
    lines = [x for x in targets.splitlines() if x.startswith("- ")]
    assert [x.split("**")[1] for x in lines] == expected
    assert figure in lines[index]


def test_bars_are_inclusive(tiny_eval):
    intro, vac = good_pair(tiny_eval[0])
    _set_edit(intro, "plain", "success", 0.95)
    _set_edit(intro, "conditional", "other_flip_rate", 0.03)
    _set_frechet(intro, vac, 40.0, 100.0)  # ratio exactly 0.40
    assert statuses(intro, vac)[:2] == ["met", "met"] and statuses(intro, vac)[7] == "met"
    _set_frechet(intro, vac, 100.0, 1000.0)  # exactly the bar
    assert statuses(intro, vac)[8] == "met"
    _set_edit(intro, "conditional", "other_flip_rate", None, "eyeglasses")  # a missing figure never passes
    assert statuses(intro, vac)[1] == "missed"
    _set_edit(intro, "conditional", "other_flip_rate", 0.0, "eyeglasses")
    _set_flips(intro, plain=0.03, conditional=0.03)  # "fewer" is strict ...
    assert statuses(intro, vac)[2] == "missed"
    _set_flips(intro, plain=0.0, conditional=0.0)  # ... unless there are no flips to reduce
    assert statuses(intro, vac)[2] == "met"


def test_frechet_target_needs_a_vac_introvac_pair(tiny_eval, model_dir: Path):
    intro, _ = good_pair(tiny_eval[0])
    assert statuses(intro, None)[-2:] == ["not measured", "met"]  # the bar needs no pair
    assert statuses(intro, copy.deepcopy(intro))[-2] == "not measured"  # two IntroVAC models
    card = render_model_card(model_dir, intro, None, **CARD_ARGS)
    assert "**not measured**: IntroVAC / VAC reconstruction Fréchet ratio <= 0.40" in card
    assert "## VAC vs IntroVAC" not in card and "## Limits" in card


def test_bad_reports_are_refused_before_anything_is_written(tiny_eval, model_dir: Path):
    report = tiny_eval[0]
    other_model = copy.deepcopy(report)
    other_model["model"]["name"] = "someone-else"
    with pytest.raises(ValueError, match="'someone-else' but .* holds 'tiny'"):
        write_model_card(model_dir, other_model, None, report_dir=tiny_eval[1], **CARD_ARGS)
    with pytest.raises(ValueError, match=r"missing \['edits'\]"):
        write_model_card(model_dir, {k: v for k, v in report.items() if k != "edits"}, None, **CARD_ARGS)
    assert not (model_dir / CARD_NAME).exists() and not (model_dir / "figures").exists()


def test_evaluate_command_reproduces_the_reports_settings(tiny_eval):
    report = tiny_eval[0]
    argv = shlex.split(evaluate_command_of(report))
    assert argv[:4] == ["python", "-m", "training", "evaluate"]
    args = build_parser().parse_args(argv[3:])
    c = report["config"]
    assert (args.n_images, args.n_samples, args.langevin_steps) == (c["n_images"], c["n_samples"], c["langevin_steps"])
    assert args.langevin_step_size == c["langevin_step_size"] and list(args.deltas) == c["deltas"]
    assert str(args.model) == report["model"]["folder"] and args.batch_size == c["batch_size"]


def test_cli_writes_the_card(tiny_eval, model_dir: Path, tmp_path: Path, capsys):
    report, out = tiny_eval
    intro, vac = good_pair(report)
    (tmp_path / "intro").mkdir()
    (tmp_path / "intro" / "report.json").write_text(json.dumps(intro))
    shutil.copytree(out / "figures", tmp_path / "intro" / "figures")
    (tmp_path / "vac").mkdir()
    (tmp_path / "vac" / "report.json").write_text(json.dumps(vac))
    argv = [
        "card",
        "--model",
        str(model_dir),
        "--report",
        str(tmp_path / "intro" / "report.json"),
        "--other-report",
        str(tmp_path / "vac"),
        "--other-label",
        "VAC",
        "--training-command",
        "train A",
        "--other-training-command",
        "train B",
        "--hardware",
        "one GPU",
        "--wall-time-s",
        "60",
    ]
    assert build_training_parser().parse_args(argv).func is not None  # wired into `python -m training`
    assert main(argv) == 0
    card = (model_dir / CARD_NAME).read_text(encoding="utf-8")
    assert "train A" in card and "train B" in card and "wall time 60 s" in card
    assert evaluate_command_of(intro) in card  # default: rebuilt from the report
    assert (model_dir / "figures" / "edit_triplets_eyeglasses.png").is_file()
    assert not (model_dir / "figures" / "vac").exists()  # the VAC report folder has no figures
    assert "written to" in capsys.readouterr().out
    manifest = load_artifact(model_dir)  # still valid, and it carries the card's headline figures
    assert manifest.evaluation["frechet_oracle_features"]["real_vs_reconstruction"] == 1.0
    fitted = manifest.evaluation["generation_oracle_accuracy_fitted_prior"]
    assert fitted["eyeglasses"]["absent"] == {"langevin": 1.0, "exact": 1.0}


def test_cli_bad_input_is_one_line_and_exit_code_2(model_dir: Path, tmp_path: Path, capsys):
    base = ["card", "--model", str(model_dir), "--training-command", "x", "--hardware", "y"]
    assert main([*base, "--report", str(tmp_path / "missing.json")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip()
    assert err.startswith("card: error:") and "no evaluation report" in err and len(err.splitlines()) == 1
    (tmp_path / "r.json").write_text("{}")
    assert main([*base, "--report", str(tmp_path / "r.json"), "--wall-time-s", "-1"]) == EXIT_BAD_INPUT
    assert "--wall-time-s must be a non-negative" in capsys.readouterr().err


def test_a_model_without_a_fitted_prior_is_judged_on_the_paper_prior_only(tiny_eval):
    intro, vac = good_pair(tiny_eval[0])
    intro["generation_fitted_prior"] = None
    targets = evaluate_targets(intro, vac)
    assert len(targets) == N_TARGETS - 2 and [t.status for t in targets] == ["met"] * (N_TARGETS - 2)
    assert not any("fitted" in t.requirement for t in targets)


def test_preprocessing_says_centre_square_without_an_alignment_template(model_dir: Path):
    manifest = load_artifact(model_dir)
    assert manifest.alignment is not None and "align=auto" in preprocessing_section(manifest)
    text = preprocessing_section(manifest.model_copy(update={"alignment": None}))
    assert "centre-cropped to a square" in text and "no alignment template" in text and "align=" not in text


def test_limits_name_the_factors_the_reconstructions_lose(model_dir: Path, tiny_eval):
    manifest = load_artifact(model_dir)
    report = copy.deepcopy(tiny_eval[0])
    report["reconstruction"]["factors_kept"] = {"eye_color": 0.24, "clothing": 0.6, "background": 1.0, "scale": None}
    text = limits_section(manifest, report)
    line = next(x for x in text.splitlines() if "Not every detail survives" in x)
    assert "eye_color (0.24), clothing (0.60)" in line and "background" not in line and "scale" not in line
    report["reconstruction"]["factors_kept"] = {"eye_color": 0.95}
    assert "Not every detail survives" not in limits_section(manifest, report)
    assert "Not every detail survives" not in limits_section(manifest)  # no report, no claim
