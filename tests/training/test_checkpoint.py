"""Checkpoints: round trip, RNG capture, atomic writes under a crash, clear load errors."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from training import checkpoint as ckpt
from training.config import ModelConfig, TrainConfig
from training.model import VAC

MODEL_CFG = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("eyeglasses", "male"))


def _state(step: int = 3, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = VAC(MODEL_CFG)
    opt_enc = torch.optim.Adam(model.encoder_classifier_parameters(), lr=1e-3)
    opt_dec = torch.optim.Adam(model.decoder_parameters(), lr=1e-3)
    for p in model.parameters():  # one Adam step so the optimizer states are not empty
        p.grad = torch.full_like(p, 0.1)
    opt_enc.step(), opt_dec.step()
    sched_enc = torch.optim.lr_scheduler.MultiStepLR(opt_enc, [2], 0.5)
    sched_dec = torch.optim.lr_scheduler.MultiStepLR(opt_dec, [2], 0.5)
    return ckpt.build_checkpoint(
        model=model,
        opt_enc=opt_enc,
        opt_dec=opt_dec,
        sched_enc=sched_enc,
        sched_dec=sched_dec,
        train_config=TrainConfig(batch_size=4),
        rng=ckpt.capture_rng_state(torch.Generator().manual_seed(5)),
        epoch=1,
        step=step,
        batch_in_epoch=2,
        commit="abc",
    )


def test_round_trip_rebuilds_the_same_model(tmp_path):
    state = _state()
    path = ckpt.save_checkpoint(state, tmp_path / "checkpoints" / "latest.pt")
    loaded = ckpt.load_checkpoint(path)
    assert (loaded["step"], loaded["epoch"], loaded["batch_in_epoch"]) == (3, 1, 2)
    assert loaded["attributes"] == ["eyeglasses", "male"]
    assert loaded["format"] == ckpt.FORMAT_VERSION
    model = ckpt.model_from_checkpoint(loaded)
    assert not model.training
    for key, value in state["model"].items():
        assert torch.equal(model.state_dict()[key], value), key
    exp_avg = loaded["opt_dec"]["state"][0]["exp_avg"]
    assert torch.equal(exp_avg, state["opt_dec"]["state"][0]["exp_avg"]) and exp_avg.abs().sum() > 0
    model_cfg, train_cfg = ckpt.configs_from_checkpoint(loaded)
    assert model_cfg == MODEL_CFG and train_cfg.batch_size == 4
    # a run folder or a checkpoints/ folder resolves to latest.pt
    assert ckpt.resolve_checkpoint_path(tmp_path) == path
    assert ckpt.load_checkpoint(tmp_path)["step"] == 3
    assert not list(path.parent.glob("*.tmp"))


def test_rng_state_round_trip_replays_every_stream(tmp_path):
    gen = torch.Generator().manual_seed(11)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.rand(3), np.random.rand(2), random.random(), torch.randn(2, generator=gen)
    state = ckpt.capture_rng_state(gen)
    first = (torch.rand(3), np.random.rand(2), random.random(), torch.randn(2, generator=gen))
    ckpt.save_checkpoint({"rng": state}, tmp_path / "rng.pt")
    restored = torch.load(tmp_path / "rng.pt", weights_only=True)["rng"]  # weights_only-safe
    torch.manual_seed(99), np.random.seed(99), random.seed(99), gen.manual_seed(99)
    ckpt.restore_rng_state(restored, gen)
    again = (torch.rand(3), np.random.rand(2), random.random(), torch.randn(2, generator=gen))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert first[2] == again[2] and torch.equal(first[3], again[3])


def test_crash_during_write_leaves_latest_intact(tmp_path, monkeypatch):
    path = ckpt.save_checkpoint(_state(step=3), tmp_path / "latest.pt")
    before = path.read_bytes()
    real_save = torch.save

    def crashing_save(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip file")  # a partial write ...
        raise KeyboardInterrupt("killed mid-write")  # ... then the process dies

    monkeypatch.setattr(torch, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save_checkpoint(_state(step=7), path)
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == before
    assert ckpt.load_checkpoint(path)["step"] == 3
    assert not (tmp_path / "latest.pt.tmp").exists()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        ckpt.load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(ckpt.CheckpointError, match="no checkpoint found"):
        ckpt.load_checkpoint(tmp_path)


def test_corrupt_and_truncated_files_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.load_checkpoint(garbage)
    good = ckpt.save_checkpoint(_state(), tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ckpt.CheckpointError, match="corrupt"):
        ckpt.load_checkpoint(truncated)


def test_incomplete_or_foreign_format_is_rejected(tmp_path):
    state = _state()
    del state["opt_dec"], state["rng"]
    ckpt.save_checkpoint(state, tmp_path / "partial.pt")
    with pytest.raises(ckpt.CheckpointError, match="missing opt_dec, rng"):
        ckpt.load_checkpoint(tmp_path / "partial.pt")
    future = _state()
    future["format"] = ckpt.FORMAT_VERSION + 1
    ckpt.save_checkpoint(future, tmp_path / "future.pt")
    with pytest.raises(ckpt.CheckpointError, match="format"):
        ckpt.load_checkpoint(tmp_path / "future.pt")
    ckpt.save_checkpoint([1, 2], tmp_path / "list.pt")
    with pytest.raises(ckpt.CheckpointError, match="expected a dict"):
        ckpt.load_checkpoint(tmp_path / "list.pt")


def test_weights_that_do_not_fit_the_config_are_rejected():
    state = _state()
    state["model_config"] = {**state["model_config"], "latent_dim": 16}
    with pytest.raises(ckpt.CheckpointError, match="do not match"):
        ckpt.model_from_checkpoint(state)


def test_attribute_names_that_disagree_with_the_config_are_rejected(tmp_path):
    state = _state()
    state["attributes"] = list(reversed(state["model_config"]["attributes"]))
    ckpt.save_checkpoint(state, tmp_path / "swapped.pt")
    with pytest.raises(ckpt.CheckpointError, match="mislabelled"):
        ckpt.load_checkpoint(tmp_path / "swapped.pt")  # resume used to rewrite it silently


def test_configs_this_code_cannot_read_are_a_checkpoint_error_not_a_traceback():
    state = _state()
    state["train_config"] = {**state["train_config"], "knob_from_newer_code": 1}
    with pytest.raises(ckpt.CheckpointError, match="knob_from_newer_code"):
        ckpt.configs_from_checkpoint(state)


def test_resuming_weights_that_do_not_fit_is_a_checkpoint_error(tmp_path):
    from training.trainer import Trainer

    state = _state()
    state["model_config"] = {**state["model_config"], "latent_dim": 16}
    ckpt.save_checkpoint(state, tmp_path / "wrong.pt")
    with pytest.raises(ckpt.CheckpointError, match="do not match"):
        Trainer.from_checkpoint(tmp_path / "wrong.pt", device="cpu")
