"""The mean-reconstruction term (beyond the paper, ``beta_ae_mean``): decoder only, exact
gradient, off = Algorithm 1."""

from __future__ import annotations

import copy

import pytest
import torch

from training.config import ModelConfig, TrainConfig
from training.model import VAC
from training.step import EDIT_LOSS_KEY, MEAN_AE_LOSS_KEY, StepNoise, compute_gradients
from training.step_reference import reference_gradients

MODEL_CFG = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("a", "b"))
N = 4


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = VAC(MODEL_CFG).double()
    x = torch.rand(N, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    noise = StepNoise.sample(N, 8, "cpu", torch.Generator().manual_seed(1), dtype=torch.float64, edit_attributes=2)
    return model, x, y, noise


def grads_of(fn, setup, **knobs):
    model, x, y, noise = setup
    model.zero_grad(set_to_none=True)
    losses = fn(model, x, y, noise=noise, cfg=TrainConfig(**knobs))
    return losses, {
        n: p.grad.clone() if p.grad is not None else torch.zeros_like(p) for n, p in model.named_parameters()
    }


def independent_mean_gradient(model, x, weight):
    """weight * L1(x, G(mean)) written out on a copy with the encoder frozen."""
    frozen = copy.deepcopy(model)
    for p in frozen.encoder_classifier_parameters():
        p.requires_grad_(False)
    mean, _ = frozen.encoder(x)
    loss = (frozen.decoder(mean) - x).abs().mean()
    names = [n for n, _ in frozen.named_parameters() if n.startswith("decoder.")]
    grads = torch.autograd.grad(weight * loss, frozen.decoder_parameters())
    return loss.detach(), dict(zip(names, grads, strict=True))


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_off_is_algorithm_1_exactly(setup, mode):
    losses, fast = grads_of(compute_gradients, setup, mode=mode, beta_ae_mean=0.0)
    ref_losses, ref = grads_of(reference_gradients, setup, mode=mode)
    for name in ref:
        torch.testing.assert_close(fast[name], ref[name], rtol=1e-5, atol=1e-5)
    assert tuple(losses) == tuple(ref_losses) and MEAN_AE_LOSS_KEY not in losses


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_on_adds_exactly_its_decoder_gradient(setup, mode):
    model, x, _, _ = setup
    off_losses, off = grads_of(compute_gradients, setup, mode=mode)
    on_losses, on = grads_of(compute_gradients, setup, mode=mode, beta_ae_mean=40.0)
    loss, expected = independent_mean_gradient(model, x, 40.0)
    for name, grad in on.items():
        if name.startswith("decoder."):
            torch.testing.assert_close(grad - off[name], expected[name], rtol=1e-8, atol=1e-8, msg=name)
        else:  # the mean is detached: the encoder and classifier get bit-identical gradients
            assert torch.equal(grad, off[name]), name
    assert any(expected[n].abs().max() > 1e-6 for n in expected), "the term must reach the decoder"
    torch.testing.assert_close(on_losses[MEAN_AE_LOSS_KEY], loss)
    torch.testing.assert_close(on_losses["total_dec"], off_losses["total_dec"] + 40.0 * loss)
    torch.testing.assert_close(on_losses["total_enc"], off_losses["total_enc"])


def test_with_edit_consistency_both_terms_add_up(setup):
    knobs = {"edit_consistency_weight": 0.7, "edit_delta_range": (1.5, 3.0)}
    _, edit_only = grads_of(compute_gradients, setup, **knobs)
    _, neither = grads_of(compute_gradients, setup)
    losses, both = grads_of(compute_gradients, setup, beta_ae_mean=40.0, **knobs)
    _, expected = independent_mean_gradient(setup[0], setup[1], 40.0)
    for name, grad in expected.items():
        torch.testing.assert_close(both[name] - edit_only[name], grad, rtol=1e-8, atol=1e-8, msg=name)
    assert tuple(losses)[-2:] == (MEAN_AE_LOSS_KEY, EDIT_LOSS_KEY)
    # the edit term is really on in both runs, so the sum above is not the mean term alone
    assert any(not torch.equal(edit_only[n], neither[n]) for n in neither if n.startswith("decoder."))


def test_negative_weight_is_refused():
    with pytest.raises(ValueError, match="beta_ae_mean"):
        TrainConfig(beta_ae_mean=-1.0)
