"""``python -m training.evaluation {oracle,evaluate,compare}`` and ``register``."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from training.evaluation.cli import (
    DEFAULT_ORACLE,
    EXIT_BAD_INPUT,
    EXIT_BELOW_BAR,
    main,
    register,
)


def test_register_adds_the_subcommands_with_their_defaults():
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["evaluate", "--model", "models/x"])
    assert args.oracle == DEFAULT_ORACLE and args.langevin_steps == 5000 and args.langevin_step_size == 2e-4
    assert args.backend == "onnx" and args.split == "test" and callable(args.func)
    args = parser.parse_args(["oracle"])
    assert args.image_size == 64 and args.min_accuracy == 0.99 and args.out is None
    args = parser.parse_args(["compare", "a.json", "b.json", "--labels", "VAC,IntroVAC"])
    assert args.labels == ("vac", "introvac")


def test_help_texts(capsys):
    for command in ("oracle", "evaluate", "compare"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--langevin-steps" in out and "(default: 5000)" in out and "--inception-weights" in out


def test_module_runs_standalone():
    done = subprocess.run(
        [sys.executable, "-m", "training.evaluation", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
        timeout=60,
    )
    assert done.returncode == 0 and "{oracle,evaluate,compare}" in done.stdout


def test_bad_input_is_one_line_and_exit_code_2(tmp_path: Path, capsys, tiny_oracle_path: Path):
    code = main(
        [
            "evaluate",
            "--model",
            str(tmp_path / "missing"),
            "--oracle",
            str(tiny_oracle_path),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == EXIT_BAD_INPUT and err.startswith("evaluate: error:") and "does not exist" in err
    assert len(err.splitlines()) == 1


def test_oracle_refuses_a_folder_the_service_would_load(tmp_path: Path, capsys):
    (tmp_path / "manifest.json").write_text("{}")
    assert main(["oracle", "--out", str(tmp_path / "o.pt"), "--image-size", "16"]) == EXIT_BAD_INPUT
    assert "manifest.json" in capsys.readouterr().err


def test_oracle_below_the_bar_exits_1_but_keeps_the_checkpoint(tmp_path: Path, capsys):
    out = tmp_path / "o.pt"
    code = main(
        [
            "oracle",
            "--out",
            str(out),
            "--image-size",
            "16",
            "--train-size",
            "64",
            "--val-size",
            "16",
            "--epochs",
            "1",
            "--batch-size",
            "32",
        ]
    )
    captured = capsys.readouterr()
    assert code == EXIT_BELOW_BAR and out.is_file()
    assert "below --min-accuracy" in captured.err
    assert json.loads(captured.out[: captured.out.rindex("}") + 1])["n_images"] == 16


def test_evaluate_and_compare_commands(tiny_eval, tmp_path: Path, capsys):
    _, out = tiny_eval
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(out, a)
    shutil.copytree(out, b)
    md = tmp_path / "cmp.md"
    assert main(["compare", str(a), str(b / "report.json"), "--out", str(md)]) == 0
    text = capsys.readouterr().out
    assert "# vac vs introvac" in text and "ratio introvac/vac: 1 " in text and md.read_text() in text + "\n"
    assert main(["compare", str(a), str(tmp_path / "none")]) == EXIT_BAD_INPUT


def test_evaluate_command_writes_the_report(tiny_model_dir: Path, tiny_oracle_path: Path, tmp_path: Path, capsys):
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_model_dir),
            "--oracle",
            str(tiny_oracle_path),
            "--out",
            str(tmp_path),
            "--n-images",
            "4",
            "--n-samples",
            "2",
            "--langevin-steps",
            "5",
            "--deltas",
            "2",
            "--figure-images",
            "2",
        ]
    )
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["deltas"] == [2.0] and set(report["edits"]["eyeglasses"]["plain"]) == {"2", "auto"}
    assert "## Reconstruction" in capsys.readouterr().out
