"""One training step of VAC (Eq. 5) / IntroVAC (Algorithm 1), with shared passes.

``compute_gradients`` computes the gradients of Algorithm 1 with shared forward
passes; the trainer uses ``train_step`` (it + both optimizer steps). The plain
line-by-line transcription ``reference_gradients`` and the public code's step pattern
live in ``training.step_reference``; the tests hold the gradients equal, so the fast
version can be trusted.

Gradients that Algorithm 1 applies (Phi, w = encoder + classifier, theta = decoder):
  L   (line 9)  = b_AE L1(X, X_r) + b_CL BCE(Y, C_attr(Z_r)) + b_reg KL
                  + b_EC (BCE_fake(C_fake(E(dt X_rr))) + BCE_fake(C_fake(E(dt X_g))))
  L_G (line 12) = b_G (BCE(Y, C_attr(E(X_rr))) + BCE_real(C_fake(E(X_rr)))
                  + BCE_real(C_fake(E(X_g))))
  Phi, w <- grad L;  theta <- grad L + grad L_G (line 10 computes grad L wrt theta
  too, line 13 accumulates and only line 15 zeroes, after the decoder update).
with Z_r = mean + exp(logvar/2) eps, X_r = G(Z_r), X_rr = G(dt Z_r), X_g = G(Z_g).
Consequences: L_EC sends nothing into theta (dt X_rr, dt X_g); L_G sends nothing into
Phi, w, neither directly nor through Z_r (dt Z_r). E(.) in the adversarial terms is the
encoder MEAN (its point estimate, as used at inference), not a sample.

Both gradients are taken at the same parameter values: the paper updates Phi, w
(line 11) before evaluating L_G (line 12), but with b_EC = 0.01 and Adam's small steps
the difference is one step of staleness in the decoder's adversarial signal, and
evaluating both first is what makes a single set of shared passes possible.

Returned losses are unweighted components plus the weighted totals: ``total_enc`` = L
(what Phi, w descend) and ``total_dec`` = L + L_G (whose theta-gradient the decoder
receives). Mode "vac" returns only ``VAC_LOSS_KEYS`` (total_dec = total_enc = L).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from training.config import TrainConfig
from training.losses import (
    attribute_bce,
    auto_edit_strengths,
    edit_consistency_loss,
    edit_strengths,
    edited_labels,
    judged_fake_loss,
    judged_real_loss,
    kl_standard_normal,
    real_image_bce,
    reconstruction_l1,
    smooth_labels,
)
from training.model import VAC

VAC_LOSS_KEYS = ("ae", "cl", "reg", "total_enc", "total_dec")
INTROVAC_LOSS_KEYS = VAC_LOSS_KEYS + ("ec_r", "ec_g", "g_cls", "g_real_r", "g_real_g")
EDIT_LOSS_KEY = "edit"  # the edit-consistency term (beyond the paper), only when its weight is > 0
MEAN_AE_LOSS_KEY = "ae_mu"  # the L1 of G(dt mean) (beyond the paper), only when beta_ae_mean > 0


@dataclass
class StepNoise:
    """All randomness of one step, passed in so that steps are reproducible and both
    gradient versions can be compared on identical noise."""

    eps: Tensor  # (N, D) reparameterisation noise for Z_r
    z_g: Tensor  # (N, D) prior samples for X_g
    edit_attribute: Tensor | None = None  # (N,) long: the attribute each row's edit flips
    edit_u: Tensor | None = None  # (N,) uniform [0, 1): where |delta| falls in edit_delta_range

    @classmethod
    def sample(
        cls,
        n: int,
        latent_dim: int,
        device: torch.device | str,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
        *,
        edit_attributes: int = 0,
    ) -> StepNoise:
        """Draw from ``generator`` on its own device (so a CPU generator gives the same
        noise whatever the training device), then move to ``device``. ``edit_attributes``
        = K also draws the edit-consistency noise, AFTER eps and z_g; 0 (the term off)
        draws nothing more, so the random stream is exactly that of Algorithm 1."""
        source = generator.device if generator is not None else torch.device(device)
        eps = torch.randn(n, latent_dim, generator=generator, device=source, dtype=dtype)
        z_g = torch.randn(n, latent_dim, generator=generator, device=source, dtype=dtype)
        if edit_attributes < 1:
            return cls(eps=eps.to(device), z_g=z_g.to(device))
        attribute = torch.randint(edit_attributes, (n,), generator=generator, device=source)
        u = torch.rand(n, generator=generator, device=source, dtype=dtype)
        return cls(eps=eps.to(device), z_g=z_g.to(device), edit_attribute=attribute.to(device), edit_u=u.to(device))


def _autocast(x: Tensor, cfg: TrainConfig) -> contextlib.AbstractContextManager:
    """bf16 autocast for the network passes on CUDA (no GradScaler needed: bf16 has
    float32's exponent range); plain float32 elsewhere. Losses are computed outside."""
    if x.is_cuda and cfg.amp:
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_inputs(model: VAC, x: Tensor, y: Tensor, noise: StepNoise) -> tuple[Tensor, Tensor]:
    """Clear errors for wrong shapes; returns the noise in x's dtype and device."""
    cfg = model.config
    s, k, d = cfg.image_size, len(cfg.attributes), cfg.latent_dim
    if x.dim() != 4 or tuple(x.shape[1:]) != (3, s, s) or x.shape[0] < 1:
        raise ValueError(f"images must have shape (N, 3, {s}, {s}), got {tuple(x.shape)}")
    n = x.shape[0]
    if tuple(y.shape) != (n, k):
        raise ValueError(f"labels must have shape ({n}, {k}) for attributes {cfg.attributes}, got {tuple(y.shape)}")
    for name, t in (("eps", noise.eps), ("z_g", noise.z_g)):
        if tuple(t.shape) != (n, d):
            raise ValueError(f"noise.{name} must have shape ({n}, {d}), got {tuple(t.shape)}")
    return noise.eps.to(x), noise.z_g.to(x)


def _check_edit_noise(noise: StepNoise, n: int, k: int) -> None:
    if noise.edit_attribute is None or noise.edit_u is None:
        raise ValueError("edit_consistency_weight > 0 needs the edit noise: StepNoise.sample(..., edit_attributes=K)")
    a, u = noise.edit_attribute, noise.edit_u
    if tuple(a.shape) != (n,) or tuple(u.shape) != (n,) or bool((a < 0).any() or (a >= k).any()):
        raise ValueError(f"noise.edit_attribute and noise.edit_u must have shape ({n},), attributes in [0, {k})")


def _detached(values: dict[str, Tensor]) -> dict[str, Tensor]:
    """Detached, in the fixed order of the *_LOSS_KEYS tuples (stable log layouts)."""
    keys = INTROVAC_LOSS_KEYS if len(values) == len(INTROVAC_LOSS_KEYS) else VAC_LOSS_KEYS
    if set(values) != set(keys):
        raise AssertionError(f"loss names {sorted(values)} do not match {keys}")
    return {name: values[name].detach() for name in keys}


# --------------------------------------------------------------------------------------
# Efficient version
# --------------------------------------------------------------------------------------


def compute_gradients(model: VAC, x: Tensor, y: Tensor, *, noise: StepNoise, cfg: TrainConfig) -> dict[str, Tensor]:
    """Set every parameter's .grad (accumulating into None/zeros) to what Algorithm 1
    applies, with shared passes; return detached scalar losses by name. With
    ``cfg.edit_consistency_weight > 0`` the decoder also gets the edit-consistency term's
    gradient (:func:`_edit_consistency`), ``total_dec`` includes it and ``"edit"`` is logged;
    likewise ``cfg.beta_ae_mean > 0`` adds :func:`_mean_reconstruction` as ``"ae_mu"``."""
    eps, z_g = _check_inputs(model, x, y, noise)
    edit_on = cfg.edit_consistency_weight > 0
    if edit_on:
        _check_edit_noise(noise, x.shape[0], len(model.config.attributes))
    if cfg.mode == "vac":
        losses, mean, z_r = _vac_gradients(model, x, y, eps, cfg)
    else:
        losses, mean, z_r = _introvac_gradients(model, x, y, eps, z_g, cfg)
    if cfg.beta_ae_mean > 0:
        ae_mu = _mean_reconstruction(model, x, mean, cfg)
        losses["total_dec"] = losses["total_dec"] + cfg.beta_ae_mean * ae_mu
        losses[MEAN_AE_LOSS_KEY] = ae_mu
    if edit_on:
        base = z_r if cfg.edit_consistency_from == "sample" else mean
        edit = _edit_consistency(model, x, y, base, noise, cfg)
        losses["total_dec"] = losses["total_dec"] + cfg.edit_consistency_weight * edit
        losses[EDIT_LOSS_KEY] = edit
    return losses


def _mean_reconstruction(model: VAC, x: Tensor, mean: Tensor, cfg: TrainConfig) -> Tensor:
    """L1 of ``G(dt mean)`` against ``x`` (beyond the paper); returns it unweighted and
    accumulates ``beta_ae_mean`` times its gradient into the DECODER only.

    Why: the service encodes a photo to its mean and decodes that, but Algorithm 1's decoder
    only ever sees ``z_r`` (about ``sigma * sqrt(D)`` away from the mean) and prior samples.
    With the edit-consistency term on, a from-scratch run's ``D(z_r)`` kept reconstructing
    while ``D(mean)`` tripled its error (benchmarks/RESULTS.md). The mean is detached so the
    term cannot move the posterior, only teach the decoder to draw it.
    """
    with _autocast(x, cfg):
        x_mean = model.decoder(mean.detach())
    loss = reconstruction_l1(x, x_mean.to(x.dtype))
    torch.autograd.backward(cfg.beta_ae_mean * loss, inputs=model.decoder_parameters())
    return loss.detach()


def _edit_consistency(model: VAC, x: Tensor, y: Tensor, mean: Tensor, noise: StepNoise, cfg: TrainConfig) -> Tensor:
    """The edit-consistency term (beyond the paper, issue 15); returns it unweighted and
    accumulates ``edit_consistency_weight`` times its gradient into the DECODER only.

    ``mean`` is the latent edited: the encoder mean, or z_r with ``edit_consistency_from
    = "sample"``. Z_e = dt mean + delta * w_k/|w_k| (k and |delta| from the step noise, or with
    ``edit_delta_mode="auto"`` the delta that brings the logit to ``edit_auto_target``; the
    sign toward the flipped label), X_e = G(Z_e), then the attribute logits C(E(X_e)) against the edited
    labels. Encoder and classifier are detached as for L_G (``inputs`` = theta: they are
    crossed, never updated), and so is the edit itself (dt mean, dt w), so the term can only
    teach the decoder to render what the latent direction means, not move the directions.
    """
    k = model.config.fake_index
    attribute = noise.edit_attribute.to(x.device)  # type: ignore[union-attr]
    low, high = cfg.edit_delta_range
    rows = model.classifier.weight[:k].detach().to(x.dtype)
    norms = rows.norm(dim=1)
    units = rows / norms[:, None].clamp_min(1e-12)
    if cfg.edit_delta_mode == "auto":
        logits = mean.detach() @ rows.T + model.classifier.bias[:k].detach().to(x.dtype)
        delta = auto_edit_strengths(logits, y.to(x.dtype), attribute, norms, cfg.edit_auto_target, low, high)
    else:
        delta = edit_strengths(y.to(x.dtype), attribute, noise.edit_u.to(x), low, high)  # type: ignore[union-attr]
    z_edit = mean.detach() + delta[:, None] * units[attribute]
    with _autocast(x, cfg):
        x_edit = model.decoder(z_edit)
        mean_edit, _ = model.encoder(x_edit)
    logits = model.classifier(mean_edit.to(x.dtype))
    target = edited_labels(y.to(x.dtype), attribute)
    loss = edit_consistency_loss(logits[:, :k], target, attribute, cfg.edit_keep_weight)
    torch.autograd.backward(cfg.edit_consistency_weight * loss, inputs=model.decoder_parameters())
    return loss.detach()


def _vac_gradients(
    model: VAC, x: Tensor, y: Tensor, eps: Tensor, cfg: TrainConfig
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Eq. 5: one encoder pass, one decoder pass, one backward into every parameter.
    Returns the losses, the encoder mean and z_r (for the optional edit-consistency term)."""
    with _autocast(x, cfg):
        mean, logvar = model.encoder(x)
    mean, logvar = mean.to(x.dtype), logvar.to(x.dtype)
    z_r = model.reparameterize(mean, logvar, eps)
    with _autocast(x, cfg):
        x_r = model.decoder(z_r)
    ae = reconstruction_l1(x, x_r.to(x.dtype))
    cl = real_image_bce(model.classifier(z_r), smooth_labels(y, cfg.classifier_label_smoothing))
    reg = kl_standard_normal(mean, logvar)
    loss = cfg.beta_ae * ae + cfg.beta_cl * cl + cfg.beta_reg * reg
    loss.backward()
    return _detached({"ae": ae, "cl": cl, "reg": reg, "total_enc": loss, "total_dec": loss}), mean, z_r


class SharedPasses(NamedTuple):
    """The forward passes of one IntroVAC step, each run once (see :func:`_shared_passes`)."""

    mean: Tensor
    logvar: Tensor
    z_r: Tensor
    x_r: Tensor  # G(Z_r): X_r, and the value of X_rr = G(dt Z_r)
    x_g: Tensor  # G(Z_g)
    adv_in: Tensor  # detached leaf [X_r; X_g] that the adversarial encoder pass reads
    logits_rr: Tensor  # C(E(X_rr)): all logits
    logits_g: Tensor  # C(E(X_g))


def _shared_passes(model: VAC, x: Tensor, eps: Tensor, z_g: Tensor, cfg: TrainConfig) -> SharedPasses:
    """3N encoder and 2N decoder image-passes forward instead of Algorithm 1's 5N and 3N.

    X_rr = G(dt Z_r) has the value of X_r = G(Z_r), so the X_r pass serves both;
    E(dt X_rr), E(dt X_g), E(X_rr), E(X_g) are one encoder pass on the detached leaf
    ``adv_in`` = [X_r; X_g]; the different gradient routes are then separate backward
    calls (:func:`_introvac_backward`). The decoder is run twice (Z_r, then Z_g) rather
    than on [Z_r; Z_g], so route 1 crosses only the N rows of X_r instead of 2N (same
    forward cost, cheaper backward).
    """
    n = x.shape[0]
    with _autocast(x, cfg):
        mean, logvar = model.encoder(x)
    mean, logvar = mean.to(x.dtype), logvar.to(x.dtype)
    z_r = model.reparameterize(mean, logvar, eps)
    with _autocast(x, cfg):
        x_r = model.decoder(z_r)  # X_r, and the value of X_rr
        x_g = model.decoder(z_g)
    adv_in = torch.cat([x_r, x_g]).detach().to(x.dtype).requires_grad_(True)
    with _autocast(x, cfg):
        adv_mean, _ = model.encoder(adv_in)
    adv_logits = model.classifier(adv_mean.to(x.dtype))
    logits_rr, logits_g = adv_logits[:n], adv_logits[n:]
    return SharedPasses(mean, logvar, z_r, x_r, x_g, adv_in, logits_rr, logits_g)


def _introvac_gradients(
    model: VAC, x: Tensor, y: Tensor, eps: Tensor, z_g: Tensor, cfg: TrainConfig
) -> tuple[dict[str, Tensor], Tensor, Tensor]:
    """Algorithm 1: the shared forward passes, the losses of lines 9 and 12, and the
    gradient routes of lines 10 and 13, with the decoder weight gradient computed once
    instead of twice for X_r. Returns the losses, the encoder mean and z_r."""
    k = model.config.fake_index
    p = _shared_passes(model, x, eps, z_g, cfg)

    ae = reconstruction_l1(x, p.x_r.to(x.dtype))
    cl = real_image_bce(model.classifier(p.z_r), smooth_labels(y, cfg.classifier_label_smoothing))
    reg = kl_standard_normal(p.mean, p.logvar)
    ec_r, ec_g = judged_fake_loss(p.logits_rr[:, k]), judged_fake_loss(p.logits_g[:, k])
    g_cls = attribute_bce(p.logits_rr[:, :k], smooth_labels(y, cfg.generator_label_smoothing))
    g_real_r, g_real_g = judged_real_loss(p.logits_rr[:, k]), judged_real_loss(p.logits_g[:, k])
    ae_term = cfg.beta_ae * ae
    loss = ae_term + cfg.beta_cl * cl + cfg.beta_reg * reg + cfg.beta_ec * (ec_r + ec_g)
    loss_g = cfg.beta_g * (g_cls + g_real_r + g_real_g)

    _introvac_backward(model, p, loss=loss, loss_g=loss_g, ae_term=ae_term)
    return _detached(
        {
            "ae": ae, "cl": cl, "reg": reg, "total_enc": loss, "total_dec": loss + loss_g,
            "ec_r": ec_r, "ec_g": ec_g, "g_cls": g_cls, "g_real_r": g_real_r, "g_real_g": g_real_g,
        }
    ), p.mean, p.z_r  # fmt: skip


def _introvac_backward(model: VAC, p: SharedPasses, *, loss: Tensor, loss_g: Tensor, ae_term: Tensor) -> None:
    """The three gradient routes over the shared passes, as backward calls with explicit ``inputs``:

      1. L -> Phi, w: through E(X), through G(Z_r) into Z_r for the L_AE part only
         (the decoder is only crossed, its weights are not accumulated) and through
         the adversarial pass for L_EC (adv_in is detached, so nothing reaches theta).
      2. L_G -> adv_in only (pixel gradients; no encoder/classifier parameter).
      3. theta: b_AE L_AE through X_r plus the L_G pixel gradients pushed into X_r and
         X_g, in one flow (the engine sums the cotangents arriving at X_r). ``inputs``
         stops it at Z_r, so L_G never reaches the encoder.

    Why the backward cannot be shared further: routes 1 and 2 cross the same
    adversarial pass with different cotangents, and a backward pass sums the weight
    gradients of all rows, so L_EC's weight gradient and L_G's pixel gradient need two
    flows. (For the X_g rows both cotangents are multiples of the fake-logit row, so
    L_G's pixel gradient could be rescaled from L_EC's by -b_G/b_EC * exp(logit), but
    that is ill-conditioned for confident logits and saves ~5%; not done.)
    """
    n = p.x_r.shape[0]
    # 1. keeps the graph: routes 2 and 3 cross the adversarial pass and G(Z_r) again.
    loss.backward(inputs=model.encoder_classifier_parameters(), retain_graph=True)
    # 2. the last user of the adversarial pass frees it.
    (pixel_grad,) = torch.autograd.grad(loss_g, p.adv_in)
    # 3. the last user of everything else frees it.
    torch.autograd.backward(
        [ae_term, p.x_r, p.x_g],
        [None, pixel_grad[:n].to(p.x_r.dtype), pixel_grad[n:].to(p.x_g.dtype)],
        inputs=model.decoder_parameters(),
    )


# --------------------------------------------------------------------------------------
# Full step
# --------------------------------------------------------------------------------------


def train_step(
    model: VAC,
    opt_enc: torch.optim.Optimizer,
    opt_dec: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    noise: StepNoise,
    cfg: TrainConfig,
    grad_hook: Callable[[VAC], None] | None = None,
) -> dict[str, float]:
    """Zero grads, compute_gradients, grad_hook(model) (e.g. averaging across ranks),
    then opt_enc.step() (encoder + classifier) and opt_dec.step() (decoder).
    Returns the losses as Python floats (one device sync for all of them)."""
    opt_enc.zero_grad(set_to_none=True)
    opt_dec.zero_grad(set_to_none=True)
    losses = compute_gradients(model, x, y, noise=noise, cfg=cfg)
    if grad_hook is not None:
        grad_hook(model)
    opt_enc.step()
    opt_dec.step()
    values = torch.stack([v.float() for v in losses.values()]).tolist()
    return dict(zip(losses.keys(), values, strict=True))
