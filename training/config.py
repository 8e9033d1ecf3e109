"""Model and training configuration: every knob of a run, each described ONCE.

Both dataclasses are stored verbatim inside every checkpoint (nanoGPT style), so a
checkpoint is self-describing: loading it never needs an outside config file.
Defaults are the paper's (IntroVAC, Sec. 4.1) unless the help says otherwise.

Each field's ``metadata["help"]`` is its only description: ``python -m training train
--help`` is generated from these fields (:mod:`training.cli_flags`), so a new knob is
one new field here and nothing else. ``at_least`` (smallest accepted value) and
``between`` (open interval of every list element) are checked on the command line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

Mode = Literal["vac", "introvac"]
Dataset = Literal["synthfaces", "celeba"]
CelebASubset = Literal["eye", "facial", "eyefacial"]

# Training images encoded to fit a model's latent prior (export, fit-prior): enough for a
# 256-d shared covariance, ~10 s of encoding at 64x64 on one core. Not the paper's.
DEFAULT_PRIOR_IMAGES = 8192


def knob(default: Any, help: str, *, at_least: float | None = None, between: tuple[float, float] | None = None) -> Any:
    """A dataclass field that carries its own help text (and optional bounds) for the CLI."""
    metadata: dict[str, Any] = {"help": help}
    if at_least is not None:
        metadata["at_least"] = at_least
    if between is not None:
        metadata["between"] = between
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the encoder / decoder / classifier triplet."""

    image_size: int = knob(128, "square image side (paper default); divisible by 2**stages")
    channels: tuple[int, ...] = knob((32, 64, 128, 256, 512), "comma list, one residual stage each (paper default)")
    latent_dim: int = knob(256, "size of z (paper default); the encoder head outputs 2 x latent_dim", at_least=1)
    attributes: tuple[str, ...] = knob(("eyeglasses",), "comma list of attribute names, in logit order")

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

    mode: Mode = knob("introvac", "vac = Eq. 5 only; introvac = Algorithm 1")
    dataset: Dataset = knob("synthfaces", "training data (synthfaces is rendered on the fly, celeba needs --data-root)")
    data_root: str | None = knob(
        None, "CelebA folder (with img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt)"
    )
    subset: CelebASubset | None = knob(None, "CelebA paper subset (balanced); unset = all rows")
    epochs: int = knob(150, "passes over the train split (paper: 150 for IntroVAC, 600 for plain VAC)", at_least=1)
    batch_size: int = knob(64, "per process (paper default)", at_least=1)
    lr: float = knob(2e-4, "Adam learning rate of both optimizers (paper default)")
    adam_betas: tuple[float, float] = knob((0.9, 0.999), "Adam betas of both optimizers (paper default)")
    lr_milestone_fractions: tuple[float, ...] = knob(
        (0.4, 0.6, 0.8),
        "fractions of the epochs where the lr is multiplied by lr_gamma (60/90/120 of 150), so that the "
        "schedule scales with the run length; empty = constant lr (the paper's VAC)",
        between=(0.0, 1.0),
    )
    lr_gamma: float = knob(0.5, "factor applied to the lr at each milestone (paper: halved)")
    beta_ae: float = knob(100.0, "loss weight beta_AE of the L1 reconstruction (paper default)")
    beta_cl: float = knob(10.0, "loss weight beta_CL of the attribute-logit BCE (paper default)")
    beta_reg: float = knob(3.0, "loss weight beta_REG of KL(q(z|x) || N(0, I)) (paper default)")
    beta_g: float = knob(5.0, "loss weight beta_G of the decoder's adversarial terms (paper default)")
    beta_ec: float = knob(0.01, "loss weight beta_EC of the encoder+classifier adversarial terms (paper default)")
    beta_ae_mean: float = knob(
        0.0,
        "beyond the paper (0 = off, Algorithm 1 exactly): weight of an L1 reconstruction of the encoder MEAN, "
        "|x - G(dt mean)|, for the decoder alone. Algorithm 1 only decodes z_r = mean + sigma * eps and prior "
        "samples; the service decodes the mean, which a from-scratch run with edit consistency left a blur",
    )
    edit_consistency_weight: float = knob(
        0.0,
        "weight of the edit-consistency term (beyond the paper; 0 = off, Algorithm 1 exactly): the encoder "
        "mean of each image is moved by delta * w_k/|w_k| along one random attribute k toward its flipped label, "
        "decoded, and judged by the frozen encoder + classifier; a BCE toward the edited labels trains the "
        "decoder alone to make edits the classifier recognises and that keep the other attributes",
    )
    edit_consistency_start: float = knob(
        0.0,
        "fraction of the run's steps before which the edit consistency term stays off (0 = on from the first "
        "step): its judge is the encoder + classifier being trained, and a decoder edited towards a judge that "
        "cannot yet read faces learns to paint what that judge reads, not faces. A fraction of the total steps "
        "as configured now: extending a run with resume moves the switch with it",
    )
    edit_consistency_from: Literal["mean", "sample"] = knob(
        "mean",
        "the latent the edit consistency term edits: 'mean' the encoder mean (what the service edits); "
        "'sample' z_r = mean + sigma * eps, the latent Algorithm 1's reconstruction loss holds the decoder to "
        "(from the mean, a from-scratch run's D(mean) drifted while D(z_r) still reconstructed)",
    )
    edit_delta_range: tuple[float, float] = knob(
        (2.0, 6.0),
        "|delta| of the edit-consistency term, uniform in [low, high] (the API's recommended edit strengths "
        "lie in this range)",
    )
    edit_delta_mode: Literal["range", "auto"] = knob(
        "range",
        "how the edit-consistency term picks |delta|: 'range' uniform in edit_delta_range; 'auto' the closed-form "
        "delta that brings the classifier to edit_auto_target, as the API's delta=auto does, clipped to the range",
    )
    edit_auto_target: float = knob(0.95, "probability the 'auto' edit delta mode aims at (the API's default target)")
    classifier_label_smoothing: float = knob(
        0.0,
        "beyond the paper: L_CL on real images aims at smoothing/2 and 1 - smoothing/2 instead of 0 and 1, "
        "a less confident classifier whose p = 0.95 lies farther along w_k (0 = Algorithm 1 exactly)",
    )
    generator_label_smoothing: float = knob(
        0.0,
        "beyond the paper: L_G asks the classifier to read the reconstructions' attributes as smoothing/2 and "
        "1 - smoothing/2 instead of 0 and 1, matching a classifier trained with label smoothing (0 = Algorithm 1)",
    )
    edit_keep_weight: float = knob(
        1.0,
        "weight, in the edit-consistency term, of the BCE of the attributes an edit must keep, relative to the "
        "edited one (1 = every attribute alike; above 1 a leak into a correlated attribute costs more)",
    )
    init_from: str | None = knob(
        None,
        "fine-tune: start from the weights of this checkpoint, run folder or exported model folder (model.ts + "
        "manifest.json); the run is new (fresh optimizers, step 0, this config) and the architecture flags must "
        "match the source's",
    )
    seed: int = knob(0, "seeds weights, data order, noise and the synthfaces universe")
    num_workers: int = knob(0, "DataLoader worker processes")
    synth_train_size: int = knob(20000, "synthfaces images in the train split", at_least=1)
    synth_decorrelated: bool = knob(
        False,
        "synthfaces train split: draw facial_hair independently of male (same marginal, 0.17; val/test keep the "
        "correlated draw an edit must not leak through)",
    )
    log_every: int = knob(50, "steps between TensorBoard scalars", at_least=1)
    image_every: int = knob(500, "steps between TensorBoard image grids (0 = never)")
    checkpoint_every: int = knob(
        1000, "steps between checkpoints (one is always written per epoch and at the end)", at_least=1
    )
    max_steps: int | None = knob(None, "stop after this many optimizer steps (tests, smoke runs)", at_least=1)
    amp: bool = knob(True, "bf16 autocast of the network passes, used only on CUDA")
    channels_last: bool = knob(
        True,
        "NHWC tensors for the conv nets: same math, but oneDNN (CPU) and cuDNN (tensor cores) run NHWC "
        "convolutions faster; measured 1.3-1.45x per IntroVAC step on a 2-core CPU",
    )
    extra: dict[str, Any] = field(default_factory=dict, metadata={"help": "free-form provenance (not a flag)"})

    def __post_init__(self) -> None:
        self.adam_betas = tuple(self.adam_betas)  # type: ignore[assignment]
        self.lr_milestone_fractions = tuple(self.lr_milestone_fractions)
        if self.mode not in ("vac", "introvac"):
            raise ValueError(f"mode must be 'vac' or 'introvac', got {self.mode!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if not (self.lr > 0 and self.lr_gamma > 0) or (self.max_steps is not None and self.max_steps < 1):
            raise ValueError(
                f"lr and lr_gamma must be > 0 and max_steps >= 1, got {self.lr}, {self.lr_gamma}, {self.max_steps}"
            )
        self.edit_delta_range = tuple(float(d) for d in self.edit_delta_range)  # type: ignore[assignment]
        if not self.edit_consistency_weight >= 0:
            raise ValueError(f"edit_consistency_weight must be >= 0, got {self.edit_consistency_weight}")
        if not 0.0 <= self.edit_consistency_start < 1.0:
            raise ValueError(f"edit_consistency_start must be in [0, 1), got {self.edit_consistency_start}")
        if not self.beta_ae_mean >= 0:
            raise ValueError(f"beta_ae_mean must be >= 0, got {self.beta_ae_mean}")
        if not self.edit_keep_weight > 0:
            raise ValueError(f"edit_keep_weight must be > 0, got {self.edit_keep_weight}")
        if not 0.0 <= self.classifier_label_smoothing < 1.0:
            raise ValueError(f"classifier_label_smoothing must be in [0, 1), got {self.classifier_label_smoothing}")
        if not 0.0 <= self.generator_label_smoothing < 1.0:
            raise ValueError(f"generator_label_smoothing must be in [0, 1), got {self.generator_label_smoothing}")
        if self.edit_consistency_from not in ("mean", "sample"):
            raise ValueError(f"edit_consistency_from must be 'mean' or 'sample', got {self.edit_consistency_from!r}")
        if self.edit_delta_mode not in ("range", "auto"):
            raise ValueError(f"edit_delta_mode must be 'range' or 'auto', got {self.edit_delta_mode!r}")
        if not 0.5 < self.edit_auto_target < 1:
            raise ValueError(f"edit_auto_target must be in (0.5, 1), got {self.edit_auto_target}")
        low, high = self.edit_delta_range
        if not 0 < low <= high:
            raise ValueError(f"edit_delta_range must be 0 < low <= high, got {self.edit_delta_range}")

    def at_step(self, step: int, total_steps: int) -> TrainConfig:
        """The config that step ``step`` (0-based) of a ``total_steps`` run trains with: this one,
        or, before ``edit_consistency_start`` of the run, a copy with the edit-consistency term
        off (so those steps are Algorithm 1 exactly, noise draws included)."""
        if self.edit_consistency_weight > 0 and step < round(self.edit_consistency_start * total_steps):
            return replace(self, edit_consistency_weight=0.0)
        return self

    def milestones(self) -> list[int]:
        """Epoch numbers at which the learning rate is multiplied by lr_gamma."""
        return sorted({max(1, round(f * self.epochs)) for f in self.lr_milestone_fractions})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return cls(**data)
