"""Trainer: outputs, exact resume, the NaN guard and the per-epoch lr schedule (tiny, CPU)."""

from __future__ import annotations

import math

import pytest
import torch

import training.trainer as trainer_module
from training.checkpoint import load_checkpoint
from training.config import ModelConfig, TrainConfig
from training.trainer import Trainer, TrainingDivergedError

MODEL_CFG = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("eyeglasses", "male"))


def tiny_train_cfg(**changes) -> TrainConfig:
    base = {
        "batch_size": 4,
        "synth_train_size": 12,
        "epochs": 3,
        "log_every": 1,
        "image_every": 0,
        "checkpoint_every": 100,
    }
    return TrainConfig(**{**base, **changes})


def _step_recorder(monkeypatch, on_call):
    """Wrap the real train_step; ``on_call(n, trainer_args, losses)`` may poison things."""
    real = trainer_module.train_step
    calls = {"n": 0}

    def wrapped(model, opt_enc, opt_dec, x, y, *, noise, cfg, grad_hook=None):
        calls["n"] += 1
        losses = real(model, opt_enc, opt_dec, x, y, noise=noise, cfg=cfg, grad_hook=grad_hook)
        return on_call(calls["n"], model, losses)

    monkeypatch.setattr(trainer_module, "train_step", wrapped)
    return calls


def test_short_run_writes_checkpoint_tensorboard_and_config(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_train_cfg(max_steps=4, image_every=2, log_every=2)
    result = Trainer(MODEL_CFG, cfg, tmp_path, device="cpu").fit()
    assert (result.step, result.steps_run, result.epoch) == (4, 4, 1)  # 3 batches per epoch
    assert set(result.losses) >= {"ae", "cl", "reg", "total_enc", "total_dec", "ec_r", "g_real_g"}
    assert (tmp_path / "config.json").is_file()
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch_in_epoch"]) == (4, 1, 1)
    assert ckpt["epochs_completed"] == pytest.approx(1 + 1 / 3)
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert len(events) == 1
    acc = EventAccumulator(str(events[0])).Reload()
    tags = acc.Tags()
    assert {"loss/total_enc", "loss/ae", "lr/encoder", "perf/steps_per_s"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("loss/ae")] == [2, 4]
    ae_mean = acc.Scalars("loss/ae_mean")  # D(mu)'s L1, measured at each logged step
    assert [e.step for e in ae_mean] == [2, 4] and all(0 < e.value < 1 for e in ae_mean)
    assert {"images/reconstruction", "images/edit_eyeglasses", "images/edit_male", "images/prior_samples"} <= set(
        tags["images"]
    )


def test_resume_is_exact(tmp_path):
    """8 straight steps == 4 steps + checkpoint + fresh objects from it + 4 steps.
    4 is mid-epoch (3 batches per epoch), so resume must skip the done batches."""
    straight = Trainer(MODEL_CFG, tiny_train_cfg(max_steps=8, image_every=3), tmp_path / "a", device="cpu")
    straight.fit()
    Trainer(MODEL_CFG, tiny_train_cfg(max_steps=4), tmp_path / "b", device="cpu").fit()
    halfway = load_checkpoint(tmp_path / "b")["model"]
    resumed = Trainer.from_checkpoint(tmp_path / "b" / "checkpoints" / "latest.pt", max_steps=8, device="cpu")
    assert (resumed.step, resumed.epoch, resumed.batch_in_epoch) == (4, 1, 1)
    assert resumed.out_dir == tmp_path / "b"
    result = resumed.fit()
    assert result.steps_run == 4
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resume"
    exp_a = straight.opt_dec.state_dict()["state"][0]["exp_avg"]
    assert torch.equal(exp_a, resumed.opt_dec.state_dict()["state"][0]["exp_avg"])
    # the check has teeth: the last 4 steps did change every weight tensor
    assert not any(torch.equal(halfway[k], b[k]) for k in halfway)


def test_nan_loss_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    def poison_at_5(n, model, losses):
        if n == 5:
            with torch.no_grad():
                next(model.decoder.parameters()).fill_(float("nan"))
            return {**losses, "ae": float("nan")}
        return losses

    _step_recorder(monkeypatch, poison_at_5)
    with pytest.raises(TrainingDivergedError, match=r"step 5: non-finite loss .*ae=nan") as info:
        Trainer(MODEL_CFG, tiny_train_cfg(checkpoint_every=2), tmp_path, device="cpu").fit()
    assert info.value.step == 5 and math.isnan(info.value.losses["ae"])
    ckpt = load_checkpoint(tmp_path / "checkpoints" / "latest.pt")
    assert ckpt["step"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_never_checkpoints_nan_weights(tmp_path, monkeypatch):
    def poison_weights_at_4(n, model, losses):
        if n == 4:  # losses still look fine, but step 4 is a checkpoint step
            with torch.no_grad():
                model.classifier.weight.fill_(float("inf"))
        return losses

    _step_recorder(monkeypatch, poison_weights_at_4)
    with pytest.raises(TrainingDivergedError, match="weights"):
        Trainer(MODEL_CFG, tiny_train_cfg(checkpoint_every=2), tmp_path, device="cpu").fit()
    # the epoch-end checkpoint of step 3 survives; step 4's poisoned weights were refused
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt")["step"] == 3


@pytest.mark.parametrize(
    ("fractions", "expected_factors"),
    [((0.4, 0.6, 0.8), [1, 1, 0.5, 0.25, 0.125]), ((), [1, 1, 1, 1, 1])],  # introvac / VAC
)
def test_lr_halves_per_epoch_at_scaled_milestones(tmp_path, monkeypatch, fractions, expected_factors):
    """epochs=5 scales the paper's 60/90/120 of 150 to epochs 2, 3, 4 (stepped per epoch)."""
    seen: list[tuple[float, float]] = []

    def fake_step(model, opt_enc, opt_dec, x, y, *, noise, cfg, grad_hook=None):
        seen.append((opt_enc.param_groups[0]["lr"], opt_dec.param_groups[0]["lr"]))
        opt_enc.step(), opt_dec.step()  # no grads: a no-op, keeps the scheduler's order check happy
        return {"total_enc": 1.0}

    monkeypatch.setattr(trainer_module, "train_step", fake_step)
    cfg = tiny_train_cfg(epochs=5, synth_train_size=8, lr=2e-4, lr_milestone_fractions=fractions)
    result = Trainer(MODEL_CFG, cfg, tmp_path, device="cpu").fit()
    assert result.step == 10 and result.epoch == 5  # 2 batches per epoch
    expected = [2e-4 * f for f in expected_factors for _ in range(2)]
    assert [enc for enc, _ in seen] == pytest.approx(expected)
    assert [dec for _, dec in seen] == pytest.approx(expected)


def test_too_small_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="fewer than batch size"):
        Trainer(MODEL_CFG, tiny_train_cfg(synth_train_size=3), tmp_path, device="cpu")


def test_channels_last_is_the_default_layout_and_changes_no_math(tmp_path):
    """NHWC is a speed choice only: the same run in NCHW ends at the same weights."""
    start = Trainer(MODEL_CFG, tiny_train_cfg(), tmp_path / "start", device="cpu").model.state_dict()
    nhwc = Trainer(MODEL_CFG, tiny_train_cfg(max_steps=3, lr=1e-3), tmp_path / "nhwc", device="cpu")
    nchw = Trainer(
        MODEL_CFG, tiny_train_cfg(max_steps=3, lr=1e-3, channels_last=False), tmp_path / "nchw", device="cpu"
    )
    convs = [p for p in nhwc.model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert not all(p.is_contiguous(memory_format=torch.channels_last) for p in nchw.model.parameters() if p.dim() == 4)
    nhwc.fit()
    nchw.fit()
    a, b = nhwc.model.state_dict(), nchw.model.state_dict()
    moved = max((a[k] - start[k]).abs().max().item() for k in a)
    layout_gap = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-3  # three Adam steps of 1e-3 moved the weights
    assert layout_gap < 1e-5  # float round-off only, 100x below what the steps moved


def test_edit_consistency_term_is_wired_into_the_run(tmp_path):
    cfg = tiny_train_cfg(max_steps=2, edit_consistency_weight=0.5)
    result = Trainer(MODEL_CFG, cfg, tmp_path, device="cpu").fit()
    assert result.step == 2 and "edit" in result.losses and math.isfinite(result.losses["edit"])
    assert load_checkpoint(result.checkpoint)["train_config"]["edit_consistency_weight"] == 0.5


def test_edit_consistency_start_keeps_the_first_steps_algorithm_1_exactly(tmp_path, monkeypatch):
    """start 0.5 of a 4-step run: steps 1-2 are the term-off run bit for bit, steps 3-4 carry it."""
    plain = Trainer(MODEL_CFG, tiny_train_cfg(max_steps=2), tmp_path / "plain", device="cpu")
    plain.fit()
    seen, at_switch = [], {}

    def record(n, model, losses):
        seen.append("edit" in losses)
        if n == 2:
            at_switch.update({k: v.clone() for k, v in model.state_dict().items()})
        return losses

    _step_recorder(monkeypatch, record)
    delayed_cfg = tiny_train_cfg(max_steps=4, edit_consistency_weight=0.5, edit_consistency_start=0.5)
    Trainer(MODEL_CFG, delayed_cfg, tmp_path / "delayed", device="cpu").fit()
    assert seen == [False, False, True, True]
    for key, value in plain.model.state_dict().items():
        assert torch.equal(value, at_switch[key]), f"{key} differs before the term starts"


def test_edit_consistency_start_must_be_a_fraction_of_the_run():
    with pytest.raises(ValueError, match="edit_consistency_start"):
        tiny_train_cfg(edit_consistency_start=1.0)
    assert (
        tiny_train_cfg(edit_consistency_weight=1.0, edit_consistency_start=0.5).at_step(1, 4).edit_consistency_weight
        == 0
    )
    assert (
        tiny_train_cfg(edit_consistency_weight=1.0, edit_consistency_start=0.5).at_step(2, 4).edit_consistency_weight
        == 1
    )
