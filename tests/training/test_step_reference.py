"""The public-code step pattern: its pass counts, and what its gradients equal."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from training.config import ModelConfig, TrainConfig
from training.model import VAC
from training.step import INTROVAC_LOSS_KEYS, VAC_LOSS_KEYS, StepNoise, compute_gradients
from training.step_reference import public_reference_step, reference_gradients

MODEL_CFG = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("a", "b"))
N = 4


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = VAC(MODEL_CFG).double()
    x = torch.rand(N, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    noise = StepNoise.sample(N, 8, "cpu", torch.Generator().manual_seed(1), dtype=torch.float64)
    return model, x, y, noise


def sgd(model, lr_enc, lr_dec):
    return (
        torch.optim.SGD(model.encoder_classifier_parameters(), lr=lr_enc),
        torch.optim.SGD(model.decoder_parameters(), lr=lr_dec),
    )


def grads_of(model):
    return {
        name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for name, p in model.named_parameters()
    }


def fast_gradients(model, x, y, noise, cfg):
    model.zero_grad(set_to_none=True)
    losses = compute_gradients(model, x, y, noise=noise, cfg=cfg)
    return losses, grads_of(model)


def public_gradients(model, x, y, noise, cfg, lr_enc=0.0):
    """Run one public-pattern step with SGD (decoder lr 0, so the parameters that
    compute_gradients is compared at stay put) and return (losses, leftover grads)."""
    opt_enc, opt_dec = sgd(model, lr_enc, 0.0)
    losses = public_reference_step(model, opt_enc, opt_dec, x, y, noise=noise, cfg=cfg)
    return losses, grads_of(model)


def split(grads):
    dec = {k: v for k, v in grads.items() if k.startswith("decoder.")}
    enc = {k: v for k, v in grads.items() if not k.startswith("decoder.")}
    return enc, dec


def assert_same(a, b, tol=1e-5):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=tol, atol=tol, msg=f"gradient of {name}")


def assert_differ(a, b):
    assert any(not torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-9) for k in a), "expected a change"


def count_rows(model, fn):
    """(encoder calls, decoder calls, encoder rows, decoder rows) during fn()."""
    counts = {"encoder": [0, 0], "decoder": [0, 0]}

    def hook(name):
        def record(module, args, output):
            counts[name][0] += 1
            counts[name][1] += args[0].shape[0]

        return record

    handles = [
        model.encoder.register_forward_hook(hook("encoder")),
        model.decoder.register_forward_hook(hook("decoder")),
    ]
    try:
        fn()
    finally:
        for handle in handles:
            handle.remove()
    return (*counts["encoder"], *counts["decoder"])


def test_public_pattern_runs_5_encoder_and_4_decoder_passes(setup):
    model, x, y, noise = setup
    cfg = TrainConfig()
    opt_enc, opt_dec = sgd(model, 0.0, 0.0)
    public = count_rows(model, lambda: public_reference_step(model, opt_enc, opt_dec, x, y, noise=noise, cfg=cfg))
    reference = count_rows(model, lambda: reference_gradients(model, x, y, noise=noise, cfg=cfg))
    fast = count_rows(model, lambda: compute_gradients(model, x, y, noise=noise, cfg=cfg))
    assert public == (5, 5 * N, 4, 4 * N)
    assert reference == (5, 5 * N, 3, 3 * N)
    assert fast == (2, 3 * N, 2, 2 * N)  # E(X) and E([X_r; X_g]); G(Z_r) and G(Z_g)


def test_with_frozen_encoder_public_decoder_gradient_equals_compute_gradients(setup):
    """With opt_enc at lr 0, L_G after the encoder update is L_G at the same
    parameters, so theta gets the same grad L + grad L_G as compute_gradients."""
    model, x, y, noise = setup
    cfg = TrainConfig()
    losses_fast, fast = fast_gradients(model, x, y, noise, cfg)
    losses_public, public = public_gradients(model, x, y, noise, cfg)
    assert_same(split(public)[1], split(fast)[1])
    assert all(g.abs().sum() > 0 for g in split(public)[1].values())
    assert tuple(losses_public) == INTROVAC_LOSS_KEYS
    for key in INTROVAC_LOSS_KEYS:
        assert math.isclose(losses_public[key], losses_fast[key].item(), rel_tol=1e-6), key


def test_public_encoder_gradient_carries_the_discarded_decoder_loss_gradient(setup):
    """L_G.backward() without inputs also fills encoder/classifier .grad (work the
    update never uses); without L_G the leftovers are exactly grad L."""
    model, x, y, noise = setup
    without_g = TrainConfig(beta_g=0.0)
    _, fast = fast_gradients(model, x, y, noise, without_g)
    _, public = public_gradients(model, x, y, noise, without_g)
    assert_same(split(public)[0], split(fast)[0])

    _, fast = fast_gradients(model, x, y, noise, TrainConfig())
    _, public = public_gradients(model, x, y, noise, TrainConfig())
    assert_differ(split(public)[0], split(fast)[0])


def test_public_decoder_loss_is_taken_after_the_encoder_update(setup):
    model, x, y, noise = setup
    cfg = TrainConfig()
    losses_fast, fast = fast_gradients(model, x, y, noise, cfg)
    encoder_before = model.encoder.head.weight.clone()
    losses_public, public = public_gradients(model, x, y, noise, cfg, lr_enc=0.1)
    assert not torch.equal(model.encoder.head.weight, encoder_before)
    assert_differ(split(public)[1], split(fast)[1])
    assert losses_public["g_real_g"] != pytest.approx(losses_fast["g_real_g"].item(), rel=1e-6)
    # line 9's losses come before any update, so they still agree
    assert losses_public["ae"] == pytest.approx(losses_fast["ae"].item(), rel=1e-6)


def test_public_vac_mode_equals_compute_gradients(setup):
    model, x, y, noise = setup
    cfg = TrainConfig(mode="vac")
    losses_fast, fast = fast_gradients(model, x, y, noise, cfg)
    losses_public, public = public_gradients(model, x, y, noise, cfg)
    assert_same(public, fast)
    assert tuple(losses_public) == VAC_LOSS_KEYS
    assert losses_public["total_enc"] == pytest.approx(losses_fast["total_enc"].item())


def test_public_step_updates_decoder_with_decoder_optimizer_only(setup):
    model, x, y, noise = setup
    opt_enc = torch.optim.SGD(model.encoder_classifier_parameters(), lr=0.0)
    opt_dec = torch.optim.SGD(model.decoder_parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    public_reference_step(model, opt_enc, opt_dec, x, y, noise=noise, cfg=TrainConfig())
    for k, value in model.state_dict().items():
        assert (not torch.equal(before[k], value)) == k.startswith("decoder."), k


def test_public_step_rejects_bad_shapes(setup):
    model, x, y, noise = setup
    opt_enc, opt_dec = sgd(model, 0.0, 0.0)
    bad = dataclasses.replace(noise, z_g=noise.z_g[:2])
    with pytest.raises(ValueError, match="noise.z_g"):
        public_reference_step(model, opt_enc, opt_dec, x, y, noise=bad, cfg=TrainConfig())
    with pytest.raises(ValueError, match="labels must have shape"):
        public_reference_step(model, opt_enc, opt_dec, x, y[:, :1], noise=noise, cfg=TrainConfig())
