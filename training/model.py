"""Encoder, decoder and linear classifier of VAC / IntroVAC (paper Sec. 4.1).

Plain ``nn.Module``s with no data-dependent Python control flow in ``forward`` so
that they trace and export to ONNX and TorchScript unchanged. No BatchNorm: the
output for one image never depends on the other images of a batch, which keeps the
service's dynamic batching exact and removes the train/eval-mode pitfall.
"""

from __future__ import annotations

import torch
from torch import nn

from training.config import ModelConfig


class ResidualBlock(nn.Module):
    """conv3x3 -> LeakyReLU -> conv3x3, plus a 1x1 projection skip when channels change."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.act = nn.LeakyReLU(0.2)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.act(self.conv1(x)))
        return self.act(self.skip(x) + h)


class Encoder(nn.Module):
    """Image (N, 3, S, S) in [0, 1] -> (mean, log-variance), each (N, latent_dim).

    One residual stage per entry of ``channels``, each followed by 2x average pooling,
    then a linear head to 2 * latent_dim, as in the paper.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c0 = config.channels[0]
        layers: list[nn.Module] = [nn.Conv2d(3, c0, 3, padding=1), nn.LeakyReLU(0.2)]
        previous = c0
        for width in config.channels:
            layers += [ResidualBlock(previous, width), nn.AvgPool2d(2)]
            previous = width
        self.features = nn.Sequential(*layers)
        flat = previous * config.bottleneck_size**2
        self.head = nn.Linear(flat, 2 * config.latent_dim)
        self.latent_dim = config.latent_dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.head(torch.flatten(self.features(x), 1))
        mean, logvar = torch.chunk(h, 2, dim=1)
        return mean, logvar


class Decoder(nn.Module):
    """Latent (N, latent_dim) -> image (N, 3, S, S) in [0, 1]; the encoder mirrored."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        widths = list(reversed(config.channels))
        self.start_channels = widths[0]
        self.start_size = config.bottleneck_size
        self.head = nn.Linear(config.latent_dim, widths[0] * self.start_size**2)
        layers: list[nn.Module] = [nn.LeakyReLU(0.2)]
        previous = widths[0]
        for width in widths:
            layers += [ResidualBlock(previous, width), nn.Upsample(scale_factor=2, mode="nearest")]
            previous = width
        layers += [nn.Conv2d(previous, 3, 3, padding=1), nn.Sigmoid()]
        self.features = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.head(z).view(-1, self.start_channels, self.start_size, self.start_size)
        return self.features(h)


class VAC(nn.Module):
    """The encoder/decoder/classifier triplet. The classifier is one linear layer with
    K attribute logits followed by one realness ("fake") logit (index K)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.classifier = nn.Linear(config.latent_dim, config.num_logits)

    @staticmethod
    def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z = mean + exp(logvar / 2) * eps, with the noise passed in for reproducibility."""
        return mean + torch.exp(0.5 * logvar) * eps

    def encoder_classifier_parameters(self) -> list[nn.Parameter]:
        """Phi and w of Algorithm 1: updated by the first Adam optimizer."""
        return list(self.encoder.parameters()) + list(self.classifier.parameters())

    def decoder_parameters(self) -> list[nn.Parameter]:
        """theta of Algorithm 1: updated by the second Adam optimizer."""
        return list(self.decoder.parameters())
