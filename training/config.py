"""Model and training configuration.

Both dataclasses are stored verbatim inside every checkpoint (nanoGPT style), so a
checkpoint is self-describing: loading it never needs an outside config file.
Defaults are the paper's (IntroVAC, Sec. 4.1) unless a comment says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["vac", "introvac"]

# Training images encoded to fit a model's latent prior (export, fit-prior): enough for a
# 256-d shared covariance, ~10 s of encoding at 64x64 on one core. Not the paper's.
DEFAULT_PRIOR_IMAGES = 8192


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the encoder / decoder / classifier triplet."""

    image_size: int = 128  # square input side; must be divisible by 2**len(channels)
    channels: tuple[int, ...] = (32, 64, 128, 256, 512)  # one residual stage per entry
    latent_dim: int = 256  # size of z; the encoder head outputs 2 * latent_dim
    attributes: tuple[str, ...] = ("eyeglasses",)  # attribute logits, in logit order

    def __post_init__(self) -> None:
        # Coerce lists (e.g. from JSON or argparse) into tuples so the config stays hashable.
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "attributes", tuple(str(a) for a in self.attributes))
        if not self.channels:
            raise ValueError("channels must name at least one residual stage")
        if not self.attributes:
            raise ValueError("at least one attribute is required")
        if len(set(self.attributes)) != len(self.attributes):
            raise ValueError(f"attribute names must be unique, got {list(self.attributes)}")
        factor = 2 ** len(self.channels)
        if self.image_size % factor != 0 or self.image_size < factor:
            raise ValueError(
                f"image_size {self.image_size} is not divisible by 2**stages = {factor} "
                f"({len(self.channels)} stages of channels {list(self.channels)}); "
                f"use a multiple of {factor} or fewer stages"
            )
        if self.latent_dim < 1:
            raise ValueError("latent_dim must be positive")

    @property
    def num_logits(self) -> int:
        """K attribute logits followed by the single realness ("fake") logit."""
        return len(self.attributes) + 1

    @property
    def fake_index(self) -> int:
        return len(self.attributes)

    @property
    def bottleneck_size(self) -> int:
        """Spatial side of the feature map after the last average pooling."""
        return self.image_size // 2 ** len(self.channels)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)


@dataclass
class TrainConfig:
    """Optimisation settings. Paper: Adam 2e-4, batch 64, 150 epochs, lr/2 at 60, 90, 120."""

    mode: Mode = "introvac"  # "vac" = Eq. 5 only; "introvac" = Algorithm 1
    dataset: str = "synthfaces"  # "synthfaces" or "celeba"
    data_root: str | None = None  # CelebA folder (synthfaces needs none)
    subset: str | None = None  # CelebA paper subset: "eye", "facial", "eyefacial" (None = all rows)
    epochs: int = 150  # paper: 150 for IntroVAC, 600 for plain VAC
    batch_size: int = 64
    lr: float = 2e-4
    adam_betas: tuple[float, float] = (0.9, 0.999)
    # Epochs at which the lr is halved, as fractions of `epochs` (60/150, 90/150, 120/150),
    # so that the schedule scales with the run length. Empty = constant lr (paper's VAC).
    lr_milestone_fractions: tuple[float, ...] = (0.4, 0.6, 0.8)
    lr_gamma: float = 0.5
    beta_ae: float = 100.0  # L1 reconstruction
    beta_cl: float = 10.0  # BCE of the attribute logits
    beta_reg: float = 3.0  # KL(q(z|x) || N(0, I))
    beta_g: float = 5.0  # decoder adversarial weight
    beta_ec: float = 0.01  # encoder+classifier adversarial weight
    seed: int = 0
    num_workers: int = 0  # DataLoader workers
    synth_train_size: int = 20000  # synthfaces images in the train split
    log_every: int = 50  # steps between TensorBoard scalars
    image_every: int = 500  # steps between TensorBoard image grids
    checkpoint_every: int = 1000  # steps between checkpoints (one is always written per epoch)
    max_steps: int | None = None  # stop early after this many optimizer steps (tests, smoke runs)
    amp: bool = True  # mixed precision, used only on CUDA
    # NHWC tensors for the conv nets: same math, but oneDNN (CPU) and cuDNN (tensor cores)
    # run NHWC convolutions faster; measured 1.3-1.45x per IntroVAC step on a 2-core CPU.
    channels_last: bool = True
    extra: dict[str, Any] = field(default_factory=dict)  # free-form provenance

    def __post_init__(self) -> None:
        self.adam_betas = tuple(self.adam_betas)  # type: ignore[assignment]
        self.lr_milestone_fractions = tuple(self.lr_milestone_fractions)
        if self.mode not in ("vac", "introvac"):
            raise ValueError(f"mode must be 'vac' or 'introvac', got {self.mode!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")

    def milestones(self) -> list[int]:
        """Epoch numbers at which the learning rate is multiplied by lr_gamma."""
        return sorted({max(1, round(f * self.epochs)) for f in self.lr_milestone_fractions})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)
