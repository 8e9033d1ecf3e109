"""``train --init-from``: a new run (step 0, fresh optimizers, its own config) that starts
from the weights of a checkpoint or of an exported model folder (tiny models, CPU)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from tests.support.tiny_model import build_tiny_model, tiny_config
from training.checkpoint import load_checkpoint
from training.cli import main
from training.config import TrainConfig
from training.init_weights import InitFromError, read_source
from training.trainer import Trainer

TINY_FLAGS = "--image-size 16 --channels 4,8 --latent-dim 8 --attributes eyeglasses,facial_hair".split()


def tiny_train_cfg(**changes) -> TrainConfig:
    base = {"batch_size": 4, "synth_train_size": 12, "epochs": 3, "log_every": 1, "image_every": 0}
    return TrainConfig(**{**base, **changes})


def assert_same_weights(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    mine = model.state_dict()
    assert set(mine) == set(state)
    for name, tensor in state.items():
        torch.testing.assert_close(mine[name], tensor, rtol=0, atol=0, msg=name)


def test_an_exported_folder_gives_its_encoder_decoder_and_classifier_rows(tiny_model_dir: Path):
    source = build_tiny_model(seed=0)  # the torch model behind the exported `tiny`
    cfg = tiny_train_cfg(seed=5, init_from=str(tiny_model_dir))  # seed 5 alone would give other weights:
    fresh = Trainer(tiny_config(), tiny_train_cfg(seed=5), tiny_model_dir.parent, device="cpu")
    assert not torch.equal(fresh.model.decoder.head.weight, source.decoder.head.weight)
    trainer = Trainer(tiny_config(), cfg, tiny_model_dir.parent, device="cpu")
    assert_same_weights(trainer.model, source.state_dict())


def test_the_new_run_starts_at_step_0_with_fresh_optimizers_and_its_own_config(tmp_path: Path):
    first = Trainer(tiny_config(), tiny_train_cfg(max_steps=3), tmp_path / "a", device="cpu")
    first.fit()
    trained = {k: v.clone() for k, v in first.model.state_dict().items()}

    cfg = tiny_train_cfg(max_steps=2, lr=5e-5, edit_consistency_weight=2.0, init_from=str(tmp_path / "a"))
    second = Trainer(tiny_config(), cfg, tmp_path / "b", device="cpu")
    assert_same_weights(second.model, trained)
    assert (second.step, second.epoch) == (0, 0)
    assert second.opt_enc.state_dict()["state"] == {} and second.opt_dec.state_dict()["state"] == {}
    result = second.fit()

    stored = load_checkpoint(tmp_path / "b" / "checkpoints" / "latest.pt")
    assert result.steps_run == 2 and stored["step"] == 2
    assert stored["train_config"]["init_from"] == str(tmp_path / "a")
    assert stored["train_config"]["lr"] == 5e-5 and stored["train_config"]["edit_consistency_weight"] == 2.0
    assert not torch.equal(stored["model"]["decoder.head.weight"], trained["decoder.head.weight"])


def test_resuming_a_fine_tuning_run_uses_its_own_checkpoint_not_the_source(tmp_path: Path, tiny_model_dir: Path):
    source = tmp_path / "source"
    shutil.copytree(tiny_model_dir, source)
    Trainer(tiny_config(), tiny_train_cfg(max_steps=2, init_from=str(source)), tmp_path / "run", device="cpu").fit()
    shutil.rmtree(source)  # a resume must not need it any more
    resumed = Trainer.from_checkpoint(tmp_path / "run", max_steps=3, device="cpu")
    stored = load_checkpoint(tmp_path / "run" / "checkpoints" / "latest.pt")
    assert resumed.step == 2
    assert_same_weights(resumed.model, stored["model"])


def test_another_architecture_is_refused_with_the_differences_named(tiny_models_root: Path):
    tiny2 = tiny_models_root / "tiny2"  # three attributes, the run has two
    with pytest.raises(
        InitFromError, match=r"attributes eyeglasses,facial_hair,male \(this run: eyeglasses,facial_hair\)"
    ):
        Trainer(tiny_config(), tiny_train_cfg(init_from=str(tiny2)), tiny_models_root, device="cpu")
    with pytest.raises(InitFromError, match=r"latent_dim 8 \(this run: 16\)"):
        Trainer(tiny_config(latent_dim=16), tiny_train_cfg(init_from=str(tiny2)), tiny_models_root, device="cpu")


def test_the_architecture_of_an_exported_folder_is_read_from_its_manifest(tiny_model_dir: Path):
    state, architecture = read_source(tiny_model_dir)
    assert architecture["attributes"] == ["eyeglasses", "facial_hair"]
    assert (architecture["image_size"], architecture["latent_dim"]) == (16, 8)
    assert list(architecture["channels"]) == [4, 8]
    assert state["classifier.weight"].shape == (3, 8)  # two attribute rows and the realness row


def test_a_corrupt_model_file_is_refused(tmp_path: Path, tiny_model_dir: Path):
    broken = Path(shutil.copytree(tiny_model_dir, tmp_path / "broken"))
    (broken / "model.ts").write_bytes(b"not torchscript")
    with pytest.raises(InitFromError, match="model.ts"):
        read_source(broken)


@pytest.mark.parametrize("kind", ["missing", "empty folder", "not a checkpoint"])
def test_cli_bad_source_is_one_line_and_exit_code_2(tmp_path: Path, capsys, kind: str):
    source = tmp_path / "source"
    if kind == "empty folder":
        source.mkdir()
    elif kind == "not a checkpoint":
        source.write_bytes(b"junk")
    argv = ["train", *TINY_FLAGS, "--synth-train-size", "12", "--batch-size", "4", "--max-steps", "1"]
    code = main([*argv, "--device", "cpu", "--out", str(tmp_path / "run"), "--init-from", str(source)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("introvac-train train: error: --init-from") and "\n" not in err
    assert not (tmp_path / "run" / "checkpoints").exists()
