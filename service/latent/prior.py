"""A latent prior fitted to encoded training images, pure numpy.

Why: the paper samples ``z ~ N(0, I)``, but a model trained for a few thousand steps
does not fill N(0, I) with its encodings (its "aggregate posterior" is narrower and
shifted), so prior samples decode to off-distribution faces and conditional samples
land next to the classifier's boundary where the decoder does not yet draw the
attribute. Fitting a density to the encodings after training ("ex-post density
estimation") fixes both without retraining.

The fit is a Gaussian mixture with **one component per attribute combination seen in
training** (like DLVAE's one Gaussian per class) and **one shared covariance**:

* component mean ``m_c`` = mean encoder mean over the images with that combination;
* covariance ``S`` = pooled within-component covariance of the encoder means, plus
  ``VARIANCE_FLOOR`` on the diagonal.

It models the encoder *means*, not the noisy posterior draws ``mu + sigma eps``: the
service decodes means (reconstruct, edit), so generated latents should look like them.
Measured on the shipped model (female faces, oracle): Gaussian of the means 98.8% judged
female, as good as real posterior draws (98.7%), while adding the mean encoder variance
``E[sigma^2]`` to the Gaussian put mass between the classes (96.2%). The floor keeps
directions the encoder never uses (near-zero spread) from making Langevin stiff: a step
of ``alpha`` is stable while ``alpha < 2 * min eigenvalue(S)``. A shared covariance needs
few images per component and keeps the mixture's score cheap. Samplers use it through
:meth:`FittedPrior.score` (Langevin) and :meth:`FittedPrior.sample` (start points, exact
rejection proposals).
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from service.artifact import LATENT_PRIOR, ArtifactError, Manifest, verify_files
from service.latent.edit import LatentMathError

# Added to the covariance diagonal: latent directions the encoder does not use keep this
# variance, so the largest stable Langevin step is at least ~2e-2 (the paper's is 2e-4).
VARIANCE_FLOOR = 1e-2
# Smallest Cholesky diagonal a prior file may have (variance 1e-6): below it the precision,
# and with it the Langevin stiffness, is unusable.
_MIN_CHOLESKY_DIAGONAL = 1e-3
_ARRAYS = ("names", "labels", "weights", "means", "cholesky", "n_images")


class LatentPriorError(ValueError):
    """A latent prior file is unreadable or inconsistent with its model."""


@dataclass(frozen=True)
class FittedPrior:
    """``p(z) = sum_c weights[c] N(z; means[c], L L^T)`` with ``L = cholesky``.

    ``labels[c, k]`` says whether attribute ``names[k]`` is present in component ``c``.
    """

    names: tuple[str, ...]
    labels: np.ndarray  # bool (C, K)
    weights: np.ndarray  # float64 (C,), sums to 1
    means: np.ndarray  # float64 (C, D)
    cholesky: np.ndarray  # float64 (D, D), lower triangular, positive diagonal
    n_images: int  # encoded images the fit used
    _precision: np.ndarray = field(init=False, repr=False, compare=False)
    _mean_precision: np.ndarray = field(init=False, repr=False, compare=False)
    _log_offset: np.ndarray = field(init=False, repr=False, compare=False)
    _max_curvature: float = field(init=False, repr=False, compare=False)
    _given: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if np.ndim(self.labels) != 2 or np.asarray(self.labels).dtype != np.bool_:
            raise LatentPriorError(
                f"labels must be a 2-d bool array, got {np.asarray(self.labels).dtype} of shape {np.shape(self.labels)}"
            )
        if isinstance(self.n_images, bool) or not isinstance(self.n_images, (int, np.integer)) or self.n_images < 2:
            raise LatentPriorError(f"n_images must be an integer >= 2, got {self.n_images!r}")
        c, k = np.shape(self.labels)
        if k != len(self.names) or c < 1:
            raise LatentPriorError(
                f"labels must have shape (components >= 1, {len(self.names)}), got {np.shape(self.labels)}"
            )
        if np.ndim(self.means) != 2 or np.shape(self.means)[1] < 1:
            raise LatentPriorError(f"means must be a (components, D) array, got shape {np.shape(self.means)}")
        if len({tuple(row) for row in np.asarray(self.labels)}) != c:
            raise LatentPriorError("two components have the same attribute combination")
        d = np.shape(self.means)[-1]
        if np.shape(self.means) != (c, d) or np.shape(self.weights) != (c,) or np.shape(self.cholesky) != (d, d):
            raise LatentPriorError("weights, means and cholesky do not fit the labels' component count or each other")
        for what in ("weights", "means", "cholesky"):
            if not np.all(np.isfinite(getattr(self, what))):
                raise LatentPriorError(f"{what} holds NaN or infinite values")
        if np.any(self.weights <= 0):
            raise LatentPriorError("component weights must be positive")
        if not math.isclose(float(self.weights.sum()), 1.0, abs_tol=1e-6):
            raise LatentPriorError("component weights must sum to 1")
        # exactly 1 from here on: numpy's Generator.choice refuses sums off by more than ~1e-8
        object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.float64) / float(self.weights.sum()))
        if np.any(np.triu(self.cholesky, 1) != 0):
            raise LatentPriorError("cholesky must be lower triangular")
        if np.any(np.diag(self.cholesky) < _MIN_CHOLESKY_DIAGONAL):
            raise LatentPriorError(f"cholesky must have a diagonal of at least {_MIN_CHOLESKY_DIAGONAL:g}")
        inv_l = np.linalg.inv(self.cholesky)
        precision = inv_l.T @ inv_l
        mean_precision = self.means @ precision  # (C, D): P m_c
        # log w_c - 0.5 m_c^T P m_c: the z-free part of each component's log density
        offset = np.log(self.weights) - 0.5 * np.sum(mean_precision * self.means, axis=1)
        object.__setattr__(self, "_precision", precision)
        object.__setattr__(self, "_mean_precision", mean_precision)
        object.__setattr__(self, "_log_offset", offset)
        object.__setattr__(self, "_max_curvature", float(np.linalg.eigvalsh(precision)[-1]))
        object.__setattr__(self, "_given", {})  # conditions -> FittedPrior, so a request reuses its inverse

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def components(self) -> int:
        return int(self.means.shape[0])

    @property
    def max_curvature(self) -> float:
        """``1 / min eigenvalue(S)``: the largest curvature of ``-log p`` (one component's;
        mixing only lowers it), which bounds a stable Langevin step. N(0, I) has 1."""
        return self._max_curvature

    def _check(self, z: np.ndarray) -> np.ndarray:
        zz = np.asarray(z, dtype=np.float64)
        if zz.ndim != 2 or zz.shape[1] != self.latent_dim:
            raise LatentMathError(f"latents must have shape (N, {self.latent_dim}), got {zz.shape}")
        return zz

    def _responsibility_logits(self, z: np.ndarray) -> np.ndarray:
        # log w_c N(z; m_c, S) up to terms shared by all components: z^T P m_c - 0.5 m_c^T P m_c + log w_c
        return z @ self._mean_precision.T + self._log_offset

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """(N,) ``log p(z)``, normalised."""
        zz = self._check(z)
        a = self._responsibility_logits(zz)
        top = a.max(axis=1, keepdims=True)
        log_mix = top[:, 0] + np.log(np.exp(a - top).sum(axis=1))
        quad = np.sum((zz @ self._precision) * zz, axis=1)
        log_det = 2.0 * float(np.log(np.diag(self.cholesky)).sum())
        return log_mix - 0.5 * quad - 0.5 * (self.latent_dim * math.log(2 * math.pi) + log_det)

    def score(self, z: np.ndarray) -> np.ndarray:
        """(N, D) ``grad log p(z) = -P z + sum_c r_c(z) P m_c`` (``r``: responsibilities)."""
        zz = self._check(z)
        a = self._responsibility_logits(zz)
        r = np.exp(a - a.max(axis=1, keepdims=True))
        r /= r.sum(axis=1, keepdims=True)
        return r @ self._mean_precision - zz @ self._precision

    def consistent(self, conditions: Mapping[str, bool]) -> np.ndarray:
        """(C,) bool: components whose attribute combination satisfies ``conditions``."""
        keep = np.ones(self.components, dtype=bool)
        for name, present in conditions.items():
            if name not in self.names:
                raise LatentMathError(f"the latent prior does not know attribute {name!r}")
            keep &= self.labels[:, self.names.index(name)] == bool(present)
        return keep

    def given(self, conditions: Mapping[str, bool]) -> FittedPrior:
        """The mixture of the components that satisfy ``conditions`` (weights renormalised):
        the fitted density of training encodings *with* the requested attributes. When no
        training image had the combination, the whole mixture (the classifier alone decides)."""
        keep = self.consistent(conditions)
        if keep.all() or not keep.any():
            return self
        key = tuple(keep)
        if key not in self._given:
            w = self.weights[keep]
            self._given[key] = FittedPrior(
                names=self.names,
                labels=self.labels[keep],
                weights=w / w.sum(),
                means=self.means[keep],
                cholesky=self.cholesky,
                n_images=self.n_images,
            )
        return self._given[key]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, D) independent draws of the mixture."""
        comp = rng.choice(self.components, size=n, p=self.weights)
        return self.means[comp] + rng.standard_normal((n, self.latent_dim)) @ self.cholesky.T

    def to_bytes(self) -> bytes:
        """The ``.npz`` file content (no pickles)."""
        buf = io.BytesIO()
        np.savez(
            buf,
            names=np.array(self.names, dtype=np.str_),
            labels=self.labels,
            weights=self.weights,
            means=self.means,
            cholesky=self.cholesky,
            n_images=np.int64(self.n_images),
        )
        return buf.getvalue()


def fit_prior(mean: np.ndarray, labels: Mapping[str, np.ndarray], names: Sequence[str]) -> FittedPrior:
    """Fit the mixture to the encoder means (N, D) of N labelled images.

    ``labels[name]`` is a bool (N,) array per attribute in ``names`` (the model's order).
    """
    mu = np.asarray(mean, dtype=np.float64)
    if mu.ndim != 2 or mu.shape[0] < 2:
        raise LatentPriorError(f"encoder means must be an (N >= 2, D) array, got {mu.shape}")
    if not np.all(np.isfinite(mu)):
        raise LatentPriorError("encoder means hold NaN or infinite values")
    y = np.stack([np.asarray(labels[n], dtype=bool) for n in names], axis=1)
    if y.shape[0] != mu.shape[0]:
        raise LatentPriorError(f"{y.shape[0]} label rows for {mu.shape[0]} encodings")
    combos, which, counts = np.unique(y, axis=0, return_inverse=True, return_counts=True)
    which = which.reshape(-1)
    means = np.stack([mu[which == c].mean(axis=0) for c in range(len(combos))])
    centred = mu - means[which]
    cov = centred.T @ centred / mu.shape[0] + VARIANCE_FLOOR * np.eye(mu.shape[1])
    return FittedPrior(
        names=tuple(names),
        labels=combos.astype(bool),
        weights=counts / counts.sum(),
        means=means,
        cholesky=np.linalg.cholesky(cov),
        n_images=int(mu.shape[0]),
    )


def read_prior(path: Path, names: Sequence[str], latent_dim: int) -> FittedPrior:
    """Load a prior file and check it against the model's attribute names and latent size."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            missing = [a for a in _ARRAYS if a not in data.files]
            if missing:
                raise LatentPriorError(f"{path} lacks arrays {missing}")
            if data["names"].ndim != 1 or data["n_images"].shape != ():
                raise LatentPriorError(f"{path}: names must be a list and n_images one number")
            prior = FittedPrior(
                names=tuple(str(n) for n in data["names"]),
                labels=data["labels"],
                weights=data["weights"].astype(np.float64),
                means=data["means"].astype(np.float64),
                cholesky=data["cholesky"].astype(np.float64),
                n_images=data["n_images"].item(),
            )
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        EOFError,
        zipfile.BadZipFile,
    ) as exc:  # np.load of a non-npz file, or arrays of the wrong kind
        if isinstance(exc, LatentPriorError):
            raise
        raise LatentPriorError(f"{path} is not a readable latent prior: {exc}") from exc
    if list(prior.names) != list(names):
        raise LatentPriorError(f"{path} is for attributes {list(prior.names)}, the model has {list(names)}")
    if prior.latent_dim != latent_dim:
        raise LatentPriorError(f"{path} has latent size {prior.latent_dim}, the model has {latent_dim}")
    return prior


def load_model_prior(folder: Path, manifest: Manifest) -> FittedPrior | None:
    """The model's fitted prior, hash-checked and validated; ``None`` when it has none.

    Raises :class:`~service.artifact.ArtifactError` (the service's start-up failure) for a
    missing, corrupt or mismatched file.
    """
    if manifest.latent_prior is None:
        return None
    verify_files(Path(folder), manifest, [LATENT_PRIOR])
    path = Path(folder) / manifest.files[LATENT_PRIOR].name
    try:
        prior = read_prior(path, manifest.attribute_names, manifest.latent_dim)
    except LatentPriorError as exc:
        raise ArtifactError(str(exc)) from exc
    info = manifest.latent_prior
    if (prior.n_images, prior.components) != (info.n_images, info.components):
        raise ArtifactError(
            f"{path} has {prior.components} components from {prior.n_images} images, the manifest "
            f"says {info.components} from {info.n_images}"
        )
    return prior
