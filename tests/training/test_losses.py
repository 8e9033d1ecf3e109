"""Loss functions against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from training.losses import (
    attribute_bce,
    auto_edit_strengths,
    edit_consistency_loss,
    edit_strengths,
    edited_labels,
    judged_fake_loss,
    judged_real_loss,
    kl_standard_normal,
    reconstruction_l1,
    smooth_labels,
)


def test_l1_is_mean_absolute_error_over_all_elements():
    x = torch.zeros(2, 1, 1, 2)
    x_rec = torch.tensor([[[[1.0, -2.0]]], [[[3.0, 0.0]]]])
    assert reconstruction_l1(x, x_rec).item() == pytest.approx((1 + 2 + 3 + 0) / 4)


def test_l1_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        reconstruction_l1(torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 5))


def test_kl_of_known_gaussians():
    mean = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, math.log(2.0)]], dtype=torch.float64)
    # per element 0.5 * (mu^2 + sigma^2 - 1 - log sigma^2): 0.5 and 0.5 * (1 - log 2)
    expected = (0.5 + 0.5 * (1.0 - math.log(2.0))) / 2
    assert kl_standard_normal(mean, logvar).item() == pytest.approx(expected, rel=1e-12)


def test_kl_is_zero_at_prior_and_matches_torch_distributions():
    assert kl_standard_normal(torch.zeros(3, 5), torch.zeros(3, 5)).item() == 0.0
    torch.manual_seed(0)
    mean, logvar = torch.randn(4, 6, dtype=torch.float64), torch.randn(4, 6, dtype=torch.float64)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    expected = torch.distributions.kl_divergence(q, p).mean()  # mean over batch and dims
    torch.testing.assert_close(kl_standard_normal(mean, logvar), expected)


def test_attribute_bce_by_hand():
    logits = torch.tensor([[2.0, -1.0], [0.0, 3.0]], dtype=torch.float64)
    labels = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    terms = [
        math.log(1 + math.exp(-2.0)),  # label 1: -log sigmoid(l)
        math.log(1 + math.exp(-1.0)),  # label 0: -log(1 - sigmoid(l))
        math.log(2.0),
        math.log(1 + math.exp(3.0)),
    ]
    assert attribute_bce(logits, labels).item() == pytest.approx(sum(terms) / 4, rel=1e-12)
    with pytest.raises(ValueError, match="labels"):
        attribute_bce(logits, labels[:, :1])


def test_realness_losses_follow_label_one_is_fake():
    logit = torch.tensor([1.5, -0.5], dtype=torch.float64)
    fake = [math.log(1 + math.exp(-v)) for v in (1.5, -0.5)]  # -log C_fake
    real = [math.log(1 + math.exp(v)) for v in (1.5, -0.5)]  # -log(1 - C_fake)
    assert judged_fake_loss(logit).item() == pytest.approx(sum(fake) / 2, rel=1e-12)
    assert judged_real_loss(logit).item() == pytest.approx(sum(real) / 2, rel=1e-12)
    # a confident "fake" logit costs the encoder little and the decoder a lot
    assert judged_fake_loss(torch.tensor([5.0])) < judged_real_loss(torch.tensor([5.0]))


def test_realness_losses_are_stable_for_extreme_logits():
    big = torch.tensor([100.0, -100.0])  # log(sigmoid) would underflow to -inf in float32
    fake, real = judged_fake_loss(big), judged_real_loss(big)
    assert torch.isfinite(fake) and torch.isfinite(real)
    assert fake.item() == pytest.approx(50.0, rel=1e-5)  # (0 + 100) / 2
    assert real.item() == pytest.approx(50.0, rel=1e-5)


def test_losses_are_batch_averages():
    torch.manual_seed(1)
    x, x_rec = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    mean, logvar, logits = torch.randn(2, 3), torch.randn(2, 3), torch.randn(2, 2)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])

    def twice(t):
        return torch.cat([t, t])

    torch.testing.assert_close(reconstruction_l1(twice(x), twice(x_rec)), reconstruction_l1(x, x_rec))
    torch.testing.assert_close(kl_standard_normal(twice(mean), twice(logvar)), kl_standard_normal(mean, logvar))
    torch.testing.assert_close(attribute_bce(twice(logits), twice(labels)), attribute_bce(logits, labels))
    torch.testing.assert_close(judged_fake_loss(twice(logits[:, 0])), judged_fake_loss(logits[:, 0]))


def test_real_image_bce_labels_the_realness_logit_real() -> None:
    from training.losses import real_image_bce

    logits = torch.tensor([[2.0, -1.0, 0.5]])
    labels = torch.tensor([[1.0, 0.0]])
    # columns: attribute 1 (label 1), attribute 2 (label 0), realness (label 0 = real)
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0)) + math.log1p(math.exp(0.5))) / 3
    assert real_image_bce(logits, labels).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError):
        real_image_bce(logits[:, :2], labels)


def test_edit_strengths_point_toward_the_flipped_label_within_the_range():
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    attribute = torch.tensor([0, 0, 1])
    delta = edit_strengths(labels, attribute, torch.tensor([0.0, 0.5, 0.999]), 2.0, 6.0)
    # row 0 has attribute 0: remove (negative); row 1 lacks it: add; row 2 has attribute 1: remove
    assert delta.tolist() == pytest.approx([-2.0, 4.0, -(2.0 + 0.999 * 4.0)])


def test_auto_edit_strengths_bring_the_logit_to_the_target_like_the_api():
    generator = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(3, 8, generator=generator), torch.randn(3, generator=generator)
    z = torch.randn(6, 8, generator=generator)
    labels = torch.tensor([[0.0, 1, 0], [1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]])
    attribute, rows = torch.tensor([0, 0, 1, 1, 2, 2]), torch.arange(6)
    norms = weight.norm(dim=1)
    delta = auto_edit_strengths(z @ weight.T + bias, labels, attribute, norms, 0.95, 1e-6, 1e6)
    moved = z + delta[:, None] * (weight / norms[:, None])[attribute]
    reached = torch.sigmoid((moved @ weight.T + bias)[rows, attribute])
    wanted = torch.where(labels[rows, attribute] == 1, 0.05, 0.95)  # toward the flipped label
    free = delta.abs() > 1e-6  # the others already read as flipped: the smallest step, no step back
    assert int(free.sum()) >= 3
    torch.testing.assert_close(reached[free], wanted[free])
    sign = 1 - 2 * labels[rows, attribute]
    assert bool((sign[~free] * (reached[~free] - wanted[~free]) >= 0).all())
    clipped = auto_edit_strengths(z @ weight.T + bias, labels, attribute, norms, 0.95, 2.0, 2.5)
    assert bool((clipped.abs() >= 2.0).all() and (clipped.abs() <= 2.5).all())
    assert torch.equal(torch.sign(clipped), 1 - 2 * labels[rows, attribute])


def test_edited_labels_flip_only_the_edited_attribute():
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    target = edited_labels(labels, torch.tensor([2, 1]))
    assert target.tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert labels.tolist() == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]  # the input is not modified


def test_edit_consistency_loss_is_low_only_when_every_attribute_reads_as_edited():
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    right = 20.0 * (2 * target - 1)  # confident logits matching the edited labels
    wrong_other = right.clone()
    wrong_other[:, 1] *= -1  # the other attribute moved too
    assert edit_consistency_loss(right, target).item() < 1e-8
    assert edit_consistency_loss(wrong_other, target).item() == pytest.approx(10.0, rel=1e-3)  # 20 / 2 columns


def test_edit_consistency_keep_weight_scales_only_the_attributes_that_must_not_move():
    target = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    attribute = torch.tensor([0, 2])  # row 0 edits column 0, row 1 edits column 2
    logits = torch.tensor([[0.3, -1.2, 2.0], [-0.5, 0.7, -0.1]])
    per_column = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert edit_consistency_loss(logits, target, attribute, 1.0).item() == pytest.approx(per_column.mean().item())
    weights = torch.tensor([[1.0, 4.0, 4.0], [4.0, 4.0, 1.0]])
    expected = (per_column * weights).mean().item()
    assert edit_consistency_loss(logits, target, attribute, 4.0).item() == pytest.approx(expected)
    confident = 30.0 * (2 * target - 1)
    confident[0, 0], confident[1, 2] = -confident[0, 0], -confident[1, 2]
    assert edit_consistency_loss(confident, target, attribute, 4.0).item() == pytest.approx(
        edit_consistency_loss(confident, target, attribute, 1.0).item(), rel=1e-4
    )


def test_smooth_labels_pull_both_classes_toward_one_half():
    labels = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    assert smooth_labels(labels, 0.1).flatten().tolist() == pytest.approx([0.05, 0.95, 0.95, 0.05])
    assert smooth_labels(labels, 0.0) is labels
    with pytest.raises(ValueError):
        smooth_labels(labels, 1.0)
