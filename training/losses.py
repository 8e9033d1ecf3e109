"""Pure loss functions of VAC / IntroVAC (paper Eq. 5-7, Algorithm 1).

Every function is stateless and returns a scalar averaged over the batch ("all the
losses are averaged over the batch", Algorithm 1). Each one is a plain *mean over
all elements*, so that a loss value never depends on the image size, the latent size
or the number of attributes.

Why means everywhere: the paper's weights (beta_AE=100, beta_CL=10, beta_reg=3,
beta_G=5, beta_EC=0.01) only make sense for per-element averages. With a per-pixel L1
(about 0.05-0.3) times 100 and a per-latent-dimension KL (about 0.1-1) times 3, the
reconstruction term dominates the prior term by roughly an order of magnitude, which
is the balance that gives sharp reconstructions with a usable prior. Summing the KL
over 256 latent dimensions instead would make it ~256x larger and swamp the
reconstruction (posterior collapse, blurry images); summing L1 over pixels would do
the opposite. The public reference code uses torch's default ``reduction="mean"``.

Realness convention (docs/DESIGN.md): the realness logit is the probability that the
encoder judges an image **fake**; label 1 = fake. Logit-based BCE
(``binary_cross_entropy_with_logits``) is used throughout because it is numerically
stable where ``log(sigmoid(l))`` would underflow.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def reconstruction_l1(x: Tensor, x_rec: Tensor) -> Tensor:
    """L_AE: mean absolute error over all elements.

    The paper uses L1 instead of the MSE of Eq. 5 because it gives sharper images.
    """
    if x.shape != x_rec.shape:
        raise ValueError(f"reconstruction shape {tuple(x_rec.shape)} != input shape {tuple(x.shape)}")
    return F.l1_loss(x_rec, x, reduction="mean")


def kl_standard_normal(mean: Tensor, logvar: Tensor) -> Tensor:
    """L_reg: KL(N(mean, exp(logvar)) || N(0, I)), averaged over batch AND latent dims.

    Per element: 0.5 * (mean^2 + exp(logvar) - 1 - logvar). The mean over latent
    dimensions (not the sum) keeps beta_reg=3 in balance with beta_AE=100 on a
    per-pixel L1 (see the module docstring).
    """
    if mean.shape != logvar.shape:
        raise ValueError(f"mean shape {tuple(mean.shape)} != logvar shape {tuple(logvar.shape)}")
    return 0.5 * torch.mean(mean.pow(2) + torch.exp(logvar) - 1.0 - logvar)


def attribute_bce(attribute_logits: Tensor, labels: Tensor) -> Tensor:
    """L_CL (and the class part of L_G^r): BCE of the K attribute logits, mean over
    batch and attributes. ``labels`` are 0/1 floats in the logits' order."""
    if attribute_logits.shape != labels.shape:
        raise ValueError(
            f"attribute logits shape {tuple(attribute_logits.shape)} != labels shape {tuple(labels.shape)}"
        )
    return F.binary_cross_entropy_with_logits(attribute_logits, labels.to(attribute_logits.dtype))


def smooth_labels(labels: Tensor, smoothing: float) -> Tensor:
    """Binary label smoothing: 0/1 -> smoothing/2 and 1 - smoothing/2 (beyond the paper), for a
    less confident classifier. Measured (benchmarks/RESULTS.md, run (s)): at 0.1 the auto-delta
    edits met 95%, but reconstruction Fréchet more than doubled."""
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    return labels if smoothing == 0.0 else labels * (1.0 - smoothing) + smoothing / 2.0


def real_image_bce(logits: Tensor, labels: Tensor) -> Tensor:
    """L_CL on real images: BCE of all K + 1 logits, mean over batch and logits.

    The K attribute logits get their labels and the realness logit (last column) gets
    "real" (0): the paper's extra class "determines whether an image is real or fake",
    so real data must anchor it at "real", or the encoder could call everything fake
    and the adversarial game would carry no signal (the authors' code does the same,
    appending a zero column to y).
    """
    if logits.shape[0] != labels.shape[0] or logits.shape[1] != labels.shape[1] + 1:
        raise ValueError(
            f"expected (N, K + 1) logits for (N, K) labels, got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    real = torch.zeros_like(labels[:, :1])
    targets = torch.cat([labels, real], dim=1).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, targets)


def judged_fake_loss(fake_logit: Tensor) -> Tensor:
    """-log C_fake: the encoder+classifier's loss L_EC, pushing the image to "fake".

    BCE(fake_logit, 1), mean over the batch (label 1 = fake, see DESIGN.md).
    """
    return F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))


def judged_real_loss(fake_logit: Tensor) -> Tensor:
    """-log(1 - C_fake): the decoder's realness loss in L_G, pushing the image to "real".

    BCE(fake_logit, 0), mean over the batch.
    """
    return F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))


# ----------------------------------------------------------------------------- edit consistency
# Beyond the paper (issue 15): an edited latent must decode to an image whose attributes the
# (frozen) encoder + classifier read as the edit intended. See training.step._edit_consistency.


def edit_strengths(labels: Tensor, attribute: Tensor, u: Tensor, low: float, high: float) -> Tensor:
    """Signed delta per row: ``|delta| = low + u (high - low)`` (``u`` uniform in [0, 1)),
    positive where row i lacks ``attribute[i]`` (add it), negative where it has it (remove it)."""
    rows = torch.arange(labels.shape[0], device=labels.device)
    present = labels[rows, attribute]
    return (1.0 - 2.0 * present) * (low + u.to(labels.dtype) * (high - low))


def auto_edit_strengths(
    logits: Tensor, labels: Tensor, attribute: Tensor, row_norms: Tensor, target: float, low: float, high: float
) -> Tensor:
    """Signed delta per row that moves the edited attribute's logit to ``logit(target)`` toward
    its flipped label: the API's ``delta=auto`` in closed form, ``(logit(target) - s l) / |w_k|``
    for a linear classifier (``l``: the row's logit, ``s``: +1 to add, -1 to remove), with
    ``|delta|`` clipped to ``[low, high]``. Training the term at these deltas teaches the decoder
    to draw an edit at the strength the service's auto edits use, instead of over a range."""
    rows = torch.arange(labels.shape[0], device=labels.device)
    sign = 1.0 - 2.0 * labels[rows, attribute]
    goal = math.log(target / (1.0 - target))
    magnitude = (goal - sign * logits[rows, attribute]) / row_norms[attribute].clamp_min(1e-12)
    return sign * magnitude.clamp(low, high)


def edited_labels(labels: Tensor, attribute: Tensor) -> Tensor:
    """The labels an edit aims at: ``attribute[i]`` flipped in row i, every other label unchanged."""
    rows = torch.arange(labels.shape[0], device=labels.device)
    target = labels.clone()
    target[rows, attribute] = 1.0 - labels[rows, attribute]
    return target


def edit_consistency_loss(
    attribute_logits: Tensor, target_labels: Tensor, attribute: Tensor | None = None, keep_weight: float = 1.0
) -> Tensor:
    """BCE of the K attribute logits of an edited image against :func:`edited_labels`: toward
    the flipped label for the edited attribute (the edit worked) and toward the unchanged labels
    for all others (nothing else moved). Mean over batch and attributes, like L_CL.

    ``keep_weight`` scales the BCE of the attributes that must NOT move (row i's edited one is
    ``attribute[i]``): 1 weighs every column alike (the plain mean); above 1 a leak into a
    correlated attribute costs more than a missed edit, which is what the preserve flips of
    the facial_hair/male pair asked for (benchmarks/RESULTS.md)."""
    if keep_weight == 1.0 or attribute is None:
        return attribute_bce(attribute_logits, target_labels)
    if attribute_logits.shape != target_labels.shape:
        raise ValueError(
            f"attribute logits shape {tuple(attribute_logits.shape)} != labels shape {tuple(target_labels.shape)}"
        )
    per_column = F.binary_cross_entropy_with_logits(
        attribute_logits, target_labels.to(attribute_logits.dtype), reduction="none"
    )
    weights = torch.full_like(per_column, keep_weight)
    weights[torch.arange(per_column.shape[0], device=per_column.device), attribute] = 1.0
    return (per_column * weights).mean()
