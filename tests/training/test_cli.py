"""CLI: help for every command, train -> resume -> export on tiny synthfaces, and
one-line exit-code-2 errors for bad input."""

from __future__ import annotations

import re

import pytest

import training.trainer as trainer_module
from service.artifact import load_artifact
from training.checkpoint import load_checkpoint
from training.cli import main

TINY = ["--image-size", "16", "--channels", "4,8", "--latent-dim", "8", "--batch-size", "4",
        "--synth-train-size", "12", "--epochs", "3", "--device", "cpu", "--image-every", "0"]  # fmt: skip


@pytest.mark.parametrize("command", ["grid", "train", "resume", "export", "fit-prior"])
def test_every_command_has_help_with_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: introvac-train {command}" in out
    assert "(default:" in out
    if command == "train":
        assert "(default: 128)" in out and "paper default" in out and "--beta-ec" in out


def test_train_resume_export_round_trip(tmp_path, capsys):
    run = tmp_path / "run"
    assert (
        main(
            ["train", *TINY, "--mode", "vac", "--max-steps", "2", "--attributes", "eyeglasses,male", "--out", str(run)]
        )
        == 0
    )
    ckpt = load_checkpoint(run / "checkpoints" / "latest.pt")
    assert ckpt["step"] == 2 and ckpt["train_config"]["mode"] == "vac"
    assert ckpt["train_config"]["lr_milestone_fractions"] == []  # paper's VAC: constant lr
    assert ckpt["attributes"] == ["eyeglasses", "male"]
    # training again into the same folder would clobber it: refused
    assert main(["train", *TINY, "--max-steps", "2", "--out", str(run)]) == 2
    assert "resume" in capsys.readouterr().err
    assert main(["resume", "--out", str(run), "--max-steps", "3"]) == 0
    assert load_checkpoint(run)["step"] == 3
    assert main(["export", "--checkpoint", str(run), "--out-dir", str(tmp_path / "models"), "--name", "tiny"]) == 0
    manifest = load_artifact(tmp_path / "models" / "tiny")
    assert manifest.attribute_names == ["eyeglasses", "male"]
    assert manifest.provenance.steps == 3 and manifest.provenance.mode == "vac"
    assert manifest.image_size == 16 and manifest.latent_dim == 8
    # the export fitted the latent prior on the run's own training split (12 faces)
    assert manifest.latent_prior is not None and manifest.latent_prior.n_images == 12
    assert manifest.latent_prior.dataset == "synthfaces" and re.fullmatch(
        r"latent_prior-[0-9a-f]{12}\.npz", manifest.files["latent_prior"].name
    )
    assert (
        main(
            [
                "export",
                "--checkpoint",
                str(run),
                "--out-dir",
                str(tmp_path / "models"),
                "--name",
                "bare",
                "--prior-images",
                "0",
            ]
        )
        == 0
    )
    assert load_artifact(tmp_path / "models" / "bare").latent_prior is None


def test_synthfaces_default_attributes(tmp_path):
    from training.cli import build_parser, configs_from_args

    model_cfg, train_cfg = configs_from_args(build_parser().parse_args(["train"]))
    assert model_cfg.attributes == ("eyeglasses", "facial_hair", "male", "smiling")
    assert (model_cfg.image_size, model_cfg.latent_dim, train_cfg.epochs, train_cfg.batch_size) == (128, 256, 150, 64)
    model_cfg, train_cfg = configs_from_args(
        build_parser().parse_args(["train", "--mode", "vac", "--dataset", "celeba", "--subset", "eye"])
    )
    assert model_cfg.attributes == ("eyeglasses",) and train_cfg.epochs == 600


def _nan_step(*args, **kwargs):
    return {"total_enc": float("nan")}


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--dataset", "celeba", "--data-root", "{tmp}/no_celeba_here", "--attributes", "eyeglasses"],
            "no_celeba_here",
        ),
        (["--attributes", "eyeglasses,wings"], "wings"),
        (["--image-size", "18"], "not divisible"),
        (["--device", "cuda"], None),  # skipped where a GPU exists
        (["--nan"], "diverged at step 1"),
        (["--lr-gamma", "-1"], "lr_gamma must be > 0"),
        (["--out", "{tmp}/a-file"], "File exists"),
    ],
    ids=[
        "missing-celeba",
        "unknown-attribute",
        "bad-image-size",
        "no-cuda",
        "nan-loss",
        "negative-lr-gamma",
        "out-is-a-file",
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(extra, expected, tmp_path, capsys, monkeypatch):
    if extra == ["--nan"]:
        monkeypatch.setattr(trainer_module, "train_step", _nan_step)
        extra = []
    if extra == ["--device", "cuda"]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
        expected = "no CUDA GPU"
    (tmp_path / "a-file").write_text("not a folder")
    args = [
        "train",
        *TINY,
        "--max-steps",
        "2",
        "--out",
        str(tmp_path / "run"),
        *[a.format(tmp=tmp_path) for a in extra],
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("introvac-train train: error:") and expected in last


def test_resume_and_export_of_a_missing_checkpoint_fail_cleanly(tmp_path, capsys):
    assert main(["resume", "--checkpoint", str(tmp_path / "nope.pt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(tmp_path / "nope.pt"), "--out-dir", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_grid_command_writes_a_png(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["grid", "--out", str(out), "--n", "4", "--image-size", "32"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_applies_the_same_minimums_as_train(tmp_path, capsys):
    assert main(["train", *TINY, "--max-steps", "1", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["resume", "--checkpoint", str(tmp_path / "run"), "--max-steps", "0"]) == 2
    assert "--max-steps must be at least 1" in capsys.readouterr().err.strip().splitlines()[-1]
