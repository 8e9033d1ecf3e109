"""Slow but simple versions of the Algorithm 1 step, kept to check and time the fast one.

``training.step.compute_gradients`` (the trainer's step) shares forward passes. Two
plain versions live here, and neither is used for training:

* ``reference_gradients``: a line-by-line transcription of Algorithm 1 with one
  forward pass for each E or G in the algorithm. It has the same contract as
  ``compute_gradients``, and tests/training/test_step.py checks that the two give
  equal gradients. Its backward passes go only to the parameters that need them
  (``autograd.grad`` with explicit inputs), so it is the *least* wasteful
  transcription.
* ``public_reference_step``: a whole step (gradients and both optimizer updates)
  written like the authors' public code (marcomgg/IntroVAC, ``step_intro`` in
  ``introvac/program.py``): 5 encoder and 4 decoder forward passes, and a plain
  ``.backward()`` on each whole loss. The issue's speed target is set against this
  version. Only the step's *structure* is copied. The losses are this project's
  (training.losses), and the public code's global
  ``torch.autograd.set_detect_anomaly(True)`` is left out (ARCHITECTURE.md lists it
  as a pitfall), so timings compare the step pattern and not a debug flag.
"""

from __future__ import annotations

import torch
from torch import Tensor

from training.config import TrainConfig
from training.losses import (
    attribute_bce,
    judged_fake_loss,
    judged_real_loss,
    kl_standard_normal,
    real_image_bce,
    reconstruction_l1,
)
from training.model import VAC
from training.step import StepNoise, _autocast, _check_inputs, _detached


def _add_grads(params: list[Tensor], grads: tuple[Tensor | None, ...]) -> None:
    """Accumulate into .grad like backward() does (None counts as zero)."""
    for p, g in zip(params, grads, strict=True):
        g = torch.zeros_like(p) if g is None else g
        if p.grad is None:
            p.grad = g.detach().clone()
        else:
            p.grad.add_(g)


def reference_gradients(model: VAC, x: Tensor, y: Tensor, *, noise: StepNoise, cfg: TrainConfig) -> dict[str, Tensor]:
    """Straightforward transcription of Algorithm 1 (one pass per occurrence of E/G),
    same contract as ``compute_gradients``; kept as the executable specification."""
    eps, z_g = _check_inputs(model, x, y, noise)
    E, G, C = model.encoder, model.decoder, model.classifier
    k = model.config.fake_index
    params = model.encoder_classifier_parameters() + model.decoder_parameters()
    theta = model.decoder_parameters()
    introvac = cfg.mode == "introvac"

    with _autocast(x, cfg):
        x_g = G(z_g) if introvac else None  # line 4
        mean, logvar = E(x)  # line 5
    mean, logvar = mean.to(x.dtype), logvar.to(x.dtype)
    z_r = model.reparameterize(mean, logvar, eps)
    y_hat = C(z_r)  # line 6
    with _autocast(x, cfg):
        x_r = G(z_r)  # line 7
        x_rr = G(z_r.detach()) if introvac else None  # line 8
    # line 9
    ae = reconstruction_l1(x, x_r.to(x.dtype))
    cl = real_image_bce(y_hat, y)
    reg = kl_standard_normal(mean, logvar)
    loss = cfg.beta_ae * ae + cfg.beta_cl * cl + cfg.beta_reg * reg
    losses = {"ae": ae, "cl": cl, "reg": reg}
    if introvac:
        with _autocast(x, cfg):
            mean_rr_dt, _ = E(x_rr.detach())
            mean_g_dt, _ = E(x_g.detach())
        ec_r = judged_fake_loss(C(mean_rr_dt.to(x.dtype))[:, k])
        ec_g = judged_fake_loss(C(mean_g_dt.to(x.dtype))[:, k])
        loss = loss + cfg.beta_ec * (ec_r + ec_g)
        losses.update(ec_r=ec_r, ec_g=ec_g)
    grads_l = torch.autograd.grad(loss, params, allow_unused=True)  # line 10
    _add_grads(params, grads_l)
    losses["total_enc"] = loss
    losses["total_dec"] = loss
    if introvac:
        # line 12, at the same parameter values as line 9 (see training.step's docstring)
        with _autocast(x, cfg):
            mean_rr, _ = E(x_rr)
            mean_g, _ = E(x_g)
        logits_rr = C(mean_rr.to(x.dtype))
        logits_g = C(mean_g.to(x.dtype))
        g_cls = attribute_bce(logits_rr[:, :k], y)
        g_real_r = judged_real_loss(logits_rr[:, k])
        g_real_g = judged_real_loss(logits_g[:, k])
        loss_g = cfg.beta_g * (g_cls + g_real_r + g_real_g)
        grads_g = torch.autograd.grad(loss_g, theta, allow_unused=True)  # line 13
        _add_grads(theta, grads_g)
        losses.update(g_cls=g_cls, g_real_r=g_real_r, g_real_g=g_real_g, total_dec=loss + loss_g)
    return _detached(losses)


def public_reference_step(
    model: VAC,
    opt_enc: torch.optim.Optimizer,
    opt_dec: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    noise: StepNoise,
    cfg: TrainConfig,
) -> dict[str, float]:
    """One whole step in the public code's pattern. This is the baseline for the
    issue's "5 encoder and 4 decoder forward passes per step". Same inputs and
    return value as ``training.step.train_step``.

    Passes, in order (Z_r = mean + exp(logvar/2) eps, with the fixed ``noise``):
      E1 = E(X); G1 = G(Z_r) = X_r; C(Z_r)
        -> (b_AE L_AE + b_CL L_CL + b_reg L_reg).backward()
           into every parameter, theta included.
      E2 = E(dt X_r); G2 = G(Z_g) = X_g; E3 = E(dt X_g)
        -> b_EC (L_EC^r + L_EC^g).backward(). E2 reads the line-7 output X_r (the same
           values as X_rr), as the public code does.
      opt_enc.step()   (Algorithm 1 line 11: Phi, w move before L_G is evaluated)
      G3 = G(dt Z_r) = X_rr; G4 = G(Z_g) again; E4 = E(X_rr); E5 = E(X_g)
        -> L_G.backward() with no ``inputs``, so autograd also computes encoder and
           classifier weight gradients that nothing uses. They sit in .grad until the
           next step's zero_grad. G3 and G4 are run again because the public code
           builds line 12's graph after the encoder update.
      opt_dec.step()   (theta gets grad L + grad L_G, accumulated as in lines 10 and 13)

    Compared with ``reference_gradients`` this pattern does 1 more decoder forward
    (G4) and full backward passes through E4/E5, whose encoder weight gradients are
    thrown away. At 64x64, channels 16-128 and batch 16 that comes to 40.4 GFLOP per
    step against 35.3 for ``reference_gradients`` and 29.3 for ``compute_gradients``
    (benchmarks/bench_train_step.py). Because L_G is taken after the encoder update,
    the decoder gradient equals ``compute_gradients``' only when opt_enc leaves the
    parameters where they are (lr 0).

    Mode "vac" is the public ``step_vac``: one E, one G, one backward, both updates.
    """
    eps, z_g = _check_inputs(model, x, y, noise)
    opt_enc.zero_grad(set_to_none=True)
    opt_dec.zero_grad(set_to_none=True)
    losses, z_r, x_r = _public_vae_pass(model, x, y, eps, cfg)
    if cfg.mode == "vac":
        opt_enc.step()
        opt_dec.step()
        return _as_floats(_detached(losses))
    loss_ec, ec_r, ec_g = _public_ec_pass(model, x, x_r, z_g, cfg)
    opt_enc.step()
    loss_g, g_cls, g_real_r, g_real_g = _public_g_pass(model, x, y, z_r, z_g, cfg)
    opt_dec.step()

    total_enc = losses["total_enc"] + loss_ec
    losses.update(
        total_enc=total_enc, total_dec=total_enc + loss_g, ec_r=ec_r, ec_g=ec_g,
        g_cls=g_cls, g_real_r=g_real_r, g_real_g=g_real_g,
    )  # fmt: skip
    return _as_floats(_detached(losses))


def _public_vae_pass(
    model: VAC, x: Tensor, y: Tensor, eps: Tensor, cfg: TrainConfig
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """E1, G1 and C(Z_r), then the VAE loss's plain backward into every parameter.
    Returns the losses so far, Z_r and X_r."""
    E, G, C = model.encoder, model.decoder, model.classifier
    with _autocast(x, cfg):
        mean, logvar = E(x)  # E1
    mean, logvar = mean.to(x.dtype), logvar.to(x.dtype)
    z_r = model.reparameterize(mean, logvar, eps)
    with _autocast(x, cfg):
        x_r = G(z_r)  # G1
    ae = reconstruction_l1(x, x_r.to(x.dtype))
    cl = real_image_bce(C(z_r), y)
    reg = kl_standard_normal(mean, logvar)
    loss_vae = cfg.beta_ae * ae + cfg.beta_cl * cl + cfg.beta_reg * reg
    loss_vae.backward()
    losses = {"ae": ae, "cl": cl, "reg": reg, "total_enc": loss_vae, "total_dec": loss_vae}
    return losses, z_r, x_r


def _public_ec_pass(model: VAC, x: Tensor, x_r: Tensor, z_g: Tensor, cfg: TrainConfig) -> tuple[Tensor, Tensor, Tensor]:
    """E2 on the line-7 output X_r (detached), G2 = G(Z_g), E3, then b_EC (L_EC^r + L_EC^g).backward()."""
    E, G, C = model.encoder, model.decoder, model.classifier
    k = model.config.fake_index
    with _autocast(x, cfg):
        mean_r_dt, _ = E(x_r.detach())  # E2
        x_g = G(z_g)  # G2
        mean_g_dt, _ = E(x_g.detach())  # E3
    ec_r = judged_fake_loss(C(mean_r_dt.to(x.dtype))[:, k])
    ec_g = judged_fake_loss(C(mean_g_dt.to(x.dtype))[:, k])
    loss_ec = cfg.beta_ec * (ec_r + ec_g)
    loss_ec.backward()
    return loss_ec, ec_r, ec_g


def _public_g_pass(
    model: VAC, x: Tensor, y: Tensor, z_r: Tensor, z_g: Tensor, cfg: TrainConfig
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """G3 = G(dt Z_r), G4 = G(Z_g) again, E4, E5 (after the encoder update), then L_G.backward()
    with no ``inputs``: the encoder and classifier weight gradients it also computes go unused."""
    E, G, C = model.encoder, model.decoder, model.classifier
    k = model.config.fake_index
    with _autocast(x, cfg):
        x_rr = G(z_r.detach())  # G3
        x_g = G(z_g)  # G4
        mean_rr, _ = E(x_rr)  # E4
        mean_g, _ = E(x_g)  # E5
    logits_rr = C(mean_rr.to(x.dtype))
    g_cls = attribute_bce(logits_rr[:, :k], y)
    g_real_r = judged_real_loss(logits_rr[:, k])
    g_real_g = judged_real_loss(C(mean_g.to(x.dtype))[:, k])
    loss_g = cfg.beta_g * (g_cls + g_real_r + g_real_g)
    loss_g.backward()
    return loss_g, g_cls, g_real_r, g_real_g


def _as_floats(losses: dict[str, Tensor]) -> dict[str, float]:
    """One device sync for all losses, like ``train_step``."""
    values = torch.stack([v.float() for v in losses.values()]).tolist()
    return dict(zip(losses.keys(), values, strict=True))
