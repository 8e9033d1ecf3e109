"""Algorithm 1 step: efficient version == reference, detach semantics, optimizer steps."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

import training.step as step_module
import training.step_reference as step_reference_module
from training.config import ModelConfig, TrainConfig
from training.losses import attribute_bce, auto_edit_strengths, real_image_bce
from training.model import VAC
from training.step import (
    EDIT_LOSS_KEY,
    INTROVAC_LOSS_KEYS,
    VAC_LOSS_KEYS,
    StepNoise,
    compute_gradients,
    train_step,
)
from training.step_reference import reference_gradients

MODEL_CFG = ModelConfig(image_size=16, channels=(4, 8), latent_dim=8, attributes=("a", "b"))
N = 4
BOTH = [compute_gradients, reference_gradients]


@pytest.fixture
def setup():
    torch.manual_seed(0)
    model = VAC(MODEL_CFG).double()
    x = torch.rand(N, 3, 16, 16, dtype=torch.float64)
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    noise = StepNoise.sample(N, 8, "cpu", torch.Generator().manual_seed(1), dtype=torch.float64)
    return model, x, y, noise


def gradients(fn, setup, **cfg_kwargs):
    """Fresh grads of one version: (losses, {param name: grad})."""
    model, x, y, noise = setup
    model.zero_grad(set_to_none=True)
    losses = fn(model, x, y, noise=noise, cfg=TrainConfig(**cfg_kwargs))
    grads = {
        name: (p.grad.clone() if p.grad is not None else torch.zeros_like(p)) for name, p in model.named_parameters()
    }
    return losses, grads


def part(grads, prefix):
    return {k: v for k, v in grads.items() if k.startswith(prefix)}


def enc_cls(grads):
    return {k: v for k, v in grads.items() if not k.startswith("decoder.")}


def assert_same(a, b, tol=1e-5):
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=tol, atol=tol, msg=f"gradient of {name}")


def assert_differ(a, b):
    assert any(not torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-9) for k in a), "expected a change"


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_efficient_gradients_equal_reference(setup, mode):
    losses_fast, fast = gradients(compute_gradients, setup, mode=mode)
    losses_ref, ref = gradients(reference_gradients, setup, mode=mode)
    assert_same(fast, ref)
    assert all(g.abs().sum() > 0 for name, g in fast.items() if "classifier" not in name)
    assert tuple(losses_fast) == tuple(losses_ref)
    assert set(losses_fast) == set(INTROVAC_LOSS_KEYS if mode == "introvac" else VAC_LOSS_KEYS)
    for key in losses_fast:
        assert losses_fast[key].requires_grad is False
        torch.testing.assert_close(losses_fast[key], losses_ref[key], msg=key)


@pytest.mark.parametrize("fn", BOTH)
def test_encoder_classifier_adversarial_loss_sends_nothing_into_decoder(setup, fn):
    _, low = gradients(fn, setup, beta_ec=0.01)
    _, high = gradients(fn, setup, beta_ec=100.0)
    assert_same(part(low, "decoder."), part(high, "decoder."), tol=1e-10)
    assert_differ(enc_cls(low), enc_cls(high))  # L_EC does reach Phi, w


@pytest.mark.parametrize("fn", BOTH)
def test_decoder_adversarial_loss_reaches_decoder_only(setup, fn):
    _, without = gradients(fn, setup, beta_g=0.0)
    _, strong = gradients(fn, setup, beta_g=50.0)
    assert_same(enc_cls(without), enc_cls(strong), tol=1e-10)  # not even through dt(Z_r)
    assert_differ(part(without, "decoder."), part(strong, "decoder."))


@pytest.mark.parametrize("fn", BOTH)
def test_zero_adversarial_weights_give_vac_gradients(setup, fn):
    losses_i, introvac = gradients(fn, setup, mode="introvac", beta_g=0.0, beta_ec=0.0)
    losses_v, vac = gradients(fn, setup, mode="vac")
    assert_same(introvac, vac, tol=1e-10)
    for key in VAC_LOSS_KEYS:
        torch.testing.assert_close(losses_i[key], losses_v[key])


def test_decoder_gets_reconstruction_plus_adversarial_gradient(setup):
    """theta <- grad L + grad L_G (lines 10 and 13 accumulate)."""
    _, full = gradients(compute_gradients, setup)
    _, ae_only = gradients(compute_gradients, setup, beta_g=0.0, beta_ec=0.0)
    _, g_only = gradients(compute_gradients, setup, beta_ae=0.0, beta_cl=0.0, beta_reg=0.0, beta_ec=0.0)
    summed = {k: ae_only[k] + g_only[k] for k in part(full, "decoder.")}
    assert_same(part(full, "decoder."), summed, tol=1e-10)
    assert_differ(part(full, "decoder."), part(ae_only, "decoder."))
    assert all(g.abs().sum() == 0 for g in enc_cls(g_only).values())


def test_losses_are_the_weighted_sums(setup):
    losses, _ = gradients(compute_gradients, setup)
    cfg = TrainConfig()
    enc = cfg.beta_ae * losses["ae"] + cfg.beta_cl * losses["cl"] + cfg.beta_reg * losses["reg"]
    enc = enc + cfg.beta_ec * (losses["ec_r"] + losses["ec_g"])
    dec = cfg.beta_g * (losses["g_cls"] + losses["g_real_r"] + losses["g_real_g"])
    torch.testing.assert_close(losses["total_enc"], enc)
    torch.testing.assert_close(losses["total_dec"], enc + dec)


@pytest.mark.parametrize("fn", BOTH)
def test_gradients_accumulate_into_existing_grads(setup, fn):
    model, x, y, noise = setup
    _, once = gradients(fn, setup)
    fn(model, x, y, noise=noise, cfg=TrainConfig())  # on top of the grads left by `gradients`
    twice = {name: p.grad for name, p in model.named_parameters()}
    assert_same(twice, {k: 2 * v for k, v in once.items()}, tol=1e-10)


def test_mixed_precision_path_runs_and_stays_close(setup, monkeypatch):
    """The CUDA bf16 autocast path, emulated with CPU autocast: dtypes plumb through."""
    model, x, y, noise = setup
    model.float()
    x, y = x.float(), y.float()
    noise = StepNoise(noise.eps.float(), noise.z_g.float())
    for module in (step_module, step_reference_module):
        monkeypatch.setattr(
            module,
            "_autocast",
            lambda x, cfg: torch.autocast(device_type="cpu", dtype=torch.bfloat16),
        )
    setup32 = (model, x, y, noise)
    seen = []  # the encoder's output dtype in every pass: proves the bf16 path really ran
    hook = model.encoder.register_forward_hook(lambda _m, _i, out: seen.append(out[0].dtype))
    losses, fast = gradients(compute_gradients, setup32)
    _, ref = gradients(reference_gradients, setup32)
    hook.remove()
    assert seen and all(d == torch.bfloat16 for d in seen), seen
    for name in fast:
        assert fast[name].dtype == torch.float32 and torch.isfinite(fast[name]).all()
        err = (fast[name] - ref[name]).norm() / ref[name].norm().clamp_min(1e-8)
        assert err < 0.1, f"{name}: relative error {err:.3g} between bf16 versions"
    assert all(v.dtype == torch.float32 for v in losses.values())


def test_train_step_updates_both_optimizers(setup):
    model, x, y, noise = setup
    opt_enc = torch.optim.Adam(model.encoder_classifier_parameters(), lr=1e-3)
    opt_dec = torch.optim.Adam(model.decoder_parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    calls = []

    def hook(m):  # runs after the gradients, before the optimizer steps
        calls.append(all(p.grad is not None for p in m.parameters()))
        assert torch.equal(m.decoder.head.weight, before["decoder.head.weight"])

    out = train_step(model, opt_enc, opt_dec, x, y, noise=noise, cfg=TrainConfig(), grad_hook=hook)
    assert calls == [True]
    assert set(out) == set(INTROVAC_LOSS_KEYS)
    assert all(isinstance(v, float) and math.isfinite(v) for v in out.values())
    after = model.state_dict()
    for prefix in ("encoder.", "decoder.", "classifier."):
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(prefix)), prefix


def test_train_step_decoder_optimizer_touches_decoder_only(setup):
    model, x, y, noise = setup
    opt_enc = torch.optim.SGD(model.encoder_classifier_parameters(), lr=0.0)
    opt_dec = torch.optim.SGD(model.decoder_parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_step(model, opt_enc, opt_dec, x, y, noise=noise, cfg=TrainConfig())
    after = model.state_dict()
    for k, value in before.items():
        changed = not torch.equal(value, after[k])
        assert changed == k.startswith("decoder."), k


def test_step_noise_is_reproducible_and_shaped():
    a = StepNoise.sample(3, 5, "cpu", torch.Generator().manual_seed(7))
    b = StepNoise.sample(3, 5, "cpu", torch.Generator().manual_seed(7))
    assert a.eps.shape == a.z_g.shape == (3, 5) and a.eps.dtype == torch.float32
    assert torch.equal(a.eps, b.eps) and torch.equal(a.z_g, b.z_g)
    assert not torch.equal(a.eps, a.z_g)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, y, n: (x[:, :1], y, n), "images must have shape"),
        (lambda x, y, n: (x, y[:, :1], n), "labels must have shape"),
        (lambda x, y, n: (x, y, dataclasses.replace(n, eps=n.eps[:2])), "noise.eps"),
        (lambda x, y, n: (x, y, dataclasses.replace(n, z_g=n.z_g[:, :3])), "noise.z_g"),
    ],
)
@pytest.mark.parametrize("fn", BOTH)
def test_bad_shapes_give_clear_errors(setup, fn, change, message):
    model, x, y, noise = setup
    x, y, noise = change(x, y, noise)
    with pytest.raises(ValueError, match=message):
        fn(model, x, y, noise=noise, cfg=TrainConfig())


# ----------------------------------------------------------------------------- edit consistency (issue 15)


def _with_edit_noise(noise, seed=5):
    """The same eps / z_g with edit draws added (attribute per row, |delta| position)."""
    drawn = StepNoise.sample(N, 8, "cpu", torch.Generator().manual_seed(seed), dtype=torch.float64, edit_attributes=2)
    return dataclasses.replace(noise, edit_attribute=drawn.edit_attribute, edit_u=drawn.edit_u)


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_edit_consistency_off_reproduces_the_reference_exactly(setup, mode):
    model, x, y, noise = setup
    edit_noise = (model, x, y, _with_edit_noise(noise))
    losses, fast = gradients(compute_gradients, edit_noise, mode=mode, edit_consistency_weight=0.0)
    ref_losses, ref = gradients(reference_gradients, setup, mode=mode)
    assert_same(fast, ref)
    assert tuple(losses) == tuple(ref_losses) and EDIT_LOSS_KEY not in losses


def _independent_edit_gradients(model, x, y, noise, weight, low, high, keep=1.0, delta=None, from_sample=False):
    """The term written out on a copy whose encoder and classifier are frozen (requires_grad
    off): the gradient it sends into the decoder, nothing shared with training.step."""
    frozen = copy.deepcopy(model)
    for p in frozen.encoder_classifier_parameters():
        p.requires_grad_(False)
    k, rows = len(MODEL_CFG.attributes), torch.arange(N)
    mean, logvar = (t.detach() for t in frozen.encoder(x))
    if from_sample:  # z_r = mean + sigma * eps, with the step's own eps
        mean = mean + torch.exp(0.5 * logvar) * noise.eps
    w = frozen.classifier.weight[:k]
    a = noise.edit_attribute
    present = y[rows, a]
    if delta is None:
        delta = (1 - 2 * present) * (low + noise.edit_u * (high - low))
    z = mean + delta[:, None] * (w / w.norm(dim=1, keepdim=True))[a]
    logits = frozen.classifier(frozen.encoder(frozen.decoder(z))[0])[:, :k]
    target = y.clone()
    target[rows, a] = 1 - present
    columns = torch.full_like(target, keep)
    columns[rows, a] = 1.0  # the attributes the edit must keep weigh `keep`, the edited one 1
    loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none") * columns).mean()
    names = [n for n, _ in frozen.named_parameters() if n.startswith("decoder.")]
    grads = torch.autograd.grad(weight * loss, frozen.decoder_parameters())
    return loss, dict(zip(names, grads, strict=True))


@pytest.mark.parametrize(("mode", "keep"), [("introvac", 1.0), ("vac", 1.0), ("introvac", 3.0)])
def test_edit_consistency_on_changes_only_the_decoder_gradients(setup, mode, keep):
    model, x, y, noise = setup
    edit_setup = (model, x, y, _with_edit_noise(noise))
    off_losses, off = gradients(compute_gradients, edit_setup, mode=mode)
    on_losses, on = gradients(
        compute_gradients,
        edit_setup,
        mode=mode,
        edit_consistency_weight=0.7,
        edit_delta_range=(1.5, 3.0),
        edit_keep_weight=keep,
    )
    for name in enc_cls(on):  # encoder and classifier detached: bit-identical
        assert torch.equal(on[name], off[name]), name
    assert_differ(part(on, "decoder."), part(off, "decoder."))
    loss, expected = _independent_edit_gradients(model, x, y, edit_setup[3], 0.7, 1.5, 3.0, keep)
    assert_same({k: on[k] - off[k] for k in expected}, expected, tol=1e-8)
    torch.testing.assert_close(on_losses[EDIT_LOSS_KEY], loss.detach())
    torch.testing.assert_close(on_losses["total_dec"], off_losses["total_dec"] + 0.7 * loss.detach())
    assert tuple(on_losses)[:-1] == tuple(off_losses) and tuple(on_losses)[-1] == EDIT_LOSS_KEY


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_edit_consistency_from_the_sample_edits_z_r_not_the_mean(setup, mode):
    model, x, y, noise = setup
    edit_setup = (model, x, y, _with_edit_noise(noise))
    knobs = {"mode": mode, "edit_consistency_weight": 0.7, "edit_delta_range": (1.5, 3.0)}
    _, off = gradients(compute_gradients, edit_setup, mode=mode)
    on_losses, on = gradients(compute_gradients, edit_setup, edit_consistency_from="sample", **knobs)
    _, from_mean = gradients(compute_gradients, edit_setup, **knobs)
    loss, expected = _independent_edit_gradients(model, x, y, edit_setup[3], 0.7, 1.5, 3.0, from_sample=True)
    assert_same({k: on[k] - off[k] for k in expected}, expected, tol=1e-8)
    torch.testing.assert_close(on_losses[EDIT_LOSS_KEY], loss.detach())
    assert_differ(part(on, "decoder."), part(from_mean, "decoder."))
    for name in enc_cls(on):
        assert torch.equal(on[name], off[name]), name


def test_edit_consistency_needs_its_noise(setup):
    model, x, y, noise = setup
    with pytest.raises(ValueError, match="edit_attributes"):
        compute_gradients(model, x, y, noise=noise, cfg=TrainConfig(edit_consistency_weight=1.0))


def test_edit_noise_is_drawn_after_and_only_when_asked():
    plain_gen, edit_gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    plain = StepNoise.sample(4, 5, "cpu", plain_gen)
    edit = StepNoise.sample(4, 5, "cpu", edit_gen, edit_attributes=3)
    assert torch.equal(plain.eps, edit.eps) and torch.equal(plain.z_g, edit.z_g)
    assert plain.edit_attribute is None and plain.edit_u is None
    assert edit.edit_attribute.shape == (4,) and bool(((edit.edit_attribute >= 0) & (edit.edit_attribute < 3)).all())
    assert bool(((edit.edit_u >= 0) & (edit.edit_u < 1)).all())
    # off: the generator advanced by exactly the two Algorithm 1 draws (the old stream)
    reference = torch.Generator().manual_seed(3)
    torch.randn(4, 5, generator=reference), torch.randn(4, 5, generator=reference)
    assert torch.equal(plain_gen.get_state(), reference.get_state())


def test_edit_consistency_config_is_checked():
    with pytest.raises(ValueError, match="edit_consistency_weight"):
        TrainConfig(edit_consistency_weight=-1.0)
    with pytest.raises(ValueError, match="edit_delta_range"):
        TrainConfig(edit_delta_range=(3.0, 2.0))
    with pytest.raises(ValueError, match="edit_keep_weight"):
        TrainConfig(edit_keep_weight=0.0)
    with pytest.raises(ValueError, match="edit_delta_mode"):
        TrainConfig(edit_delta_mode="sometimes")
    with pytest.raises(ValueError, match="edit_auto_target"):
        TrainConfig(edit_auto_target=0.5)


def test_auto_delta_mode_edits_at_the_delta_that_reaches_the_target(setup):
    """The step's auto deltas are the closed form of ``auto_edit_strengths`` on the step's own
    encoder mean and classifier rows: the independent term, fed those deltas, gives the same
    decoder gradient."""
    model, x, y, noise = setup
    edit_setup = (model, x, y, _with_edit_noise(noise))
    _, off = gradients(compute_gradients, edit_setup, mode="introvac")
    _, on = gradients(
        compute_gradients,
        edit_setup,
        mode="introvac",
        edit_consistency_weight=0.7,
        edit_delta_mode="auto",
        edit_delta_range=(0.5, 8.0),
    )
    k = len(MODEL_CFG.attributes)
    with torch.no_grad():
        mean = model.encoder(x)[0]
        w, b = model.classifier.weight[:k], model.classifier.bias[:k]
        delta = auto_edit_strengths(mean @ w.T + b, y, edit_setup[3].edit_attribute, w.norm(dim=1), 0.95, 0.5, 8.0)
    assert bool((delta.abs() > 0.5).any() and (delta.abs() < 8.0).any())  # not all at a clip
    _, expected = _independent_edit_gradients(model, x, y, edit_setup[3], 0.7, 0.5, 8.0, delta=delta)
    assert_same({k: on[k] - off[k] for k in expected}, expected, tol=1e-8)


@pytest.mark.parametrize("mode", ["introvac", "vac"])
def test_label_smoothing_softens_only_the_real_image_classifier_targets(setup, mode):
    model, x, y, noise = setup
    plain, _ = gradients(compute_gradients, setup, mode=mode)
    smoothed, _ = gradients(compute_gradients, setup, mode=mode, classifier_label_smoothing=0.2)
    with torch.no_grad():
        mean, logvar = model.encoder(x)
        z_r = model.reparameterize(mean, logvar, noise.eps)
        logits = model.classifier(z_r)
        expected = real_image_bce(logits, y * 0.8 + 0.1)
    torch.testing.assert_close(smoothed["cl"], expected)
    torch.testing.assert_close(plain["cl"], real_image_bce(logits, y))
    assert smoothed["cl"] != plain["cl"]
    for key in set(plain) - {"cl", "total_enc", "total_dec"}:  # every other loss is the same
        torch.testing.assert_close(smoothed[key], plain[key])
    with pytest.raises(ValueError, match="classifier_label_smoothing"):
        TrainConfig(classifier_label_smoothing=1.0)


def test_generator_label_smoothing_softens_only_the_decoders_attribute_targets(setup):
    model, x, y, noise = setup
    plain, _ = gradients(compute_gradients, setup, mode="introvac")
    smoothed, _ = gradients(compute_gradients, setup, mode="introvac", generator_label_smoothing=0.2)
    with torch.no_grad():
        mean, logvar = model.encoder(x)
        x_rr = model.decoder(model.reparameterize(mean, logvar, noise.eps))
        logits = model.classifier(model.encoder(x_rr)[0])[:, : len(MODEL_CFG.attributes)]
    torch.testing.assert_close(smoothed["g_cls"], attribute_bce(logits, y * 0.8 + 0.1))
    torch.testing.assert_close(plain["g_cls"], attribute_bce(logits, y))
    assert smoothed["g_cls"] != plain["g_cls"]
    for key in set(plain) - {"g_cls", "total_dec"}:  # the encoder's side and every other term are the same
        torch.testing.assert_close(smoothed[key], plain[key])
    with pytest.raises(ValueError, match="generator_label_smoothing"):
        TrainConfig(generator_label_smoothing=-0.1)
