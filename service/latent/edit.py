"""Latent-space math for editing: the linear classifier, edit directions, auto delta.

Pure numpy (no torch, no scipy) so the ONNX serving path stays light. Everything is
vectorised over a batch of latents ``z`` of shape ``(N, D)`` and computed in float64;
edited latents come back in the dtype they came in (float32 for the decoder).

The classifier of a VAC is linear: ``logit_k(z) = w_k . z + b_k`` for attribute ``k``
(rows of ``W`` in manifest order), plus a separate realness row whose sigmoid is the
probability that the encoder judges the image *fake*. Because it is linear, editing,
"how far to move" and conditional edits all have closed forms, implemented here.
The samplers of ``p(z | y)`` (Langevin, exact rejection) live in
:mod:`service.latent.sampling`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for annotations: the math needs no pydantic
    from service.artifact import Manifest

# A projected direction shorter than this fraction of |w_k| counts as vanished: the
# attribute cannot be moved without moving the preserved ones.
_VANISHING_RELATIVE_NORM = 1e-6


class LatentMathError(ValueError):
    """Bad input to the latent math (unknown attribute, non-finite number, impossible edit).

    A ``ValueError`` so callers (the API) can report it as a client error.
    """


# ----------------------------------------------------------------------------- helpers


def log_sigmoid(a: np.ndarray) -> np.ndarray:
    """log(sigmoid(a)) = -log(1 + exp(-a)), stable for large |a| (no overflow, no log(0))."""
    return -np.logaddexp(0.0, -np.asarray(a, dtype=np.float64))


def sigmoid(a: np.ndarray) -> np.ndarray:
    """sigmoid(a) = 1 / (1 + exp(-a)) as exp(log_sigmoid(a)): stable, and accurate in the
    far tails (1 + tanh would round tiny probabilities to 0)."""
    return np.exp(log_sigmoid(a))


def logit(p: float | np.ndarray) -> np.ndarray:
    """logit(p) = log(p) - log(1 - p), the inverse of :func:`sigmoid`, for 0 < p < 1."""
    p = np.asarray(p, dtype=np.float64)
    return np.log(p) - np.log1p(-p)


def check_probability(p: float, what: str = "target probability") -> float:
    """Return ``p`` as a float if it is a finite number strictly inside (0, 1)."""
    try:
        value = float(p)
    except (TypeError, ValueError) as exc:
        raise LatentMathError(f"{what} must be a number in (0, 1), got {p!r}") from exc
    if not (0.0 < value < 1.0):
        raise LatentMathError(f"{what} must be strictly between 0 and 1, got {p!r}")
    return value


def check_finite_number(x: float, what: str) -> float:
    try:
        value = float(x)
    except (TypeError, ValueError) as exc:
        raise LatentMathError(f"{what} must be a finite number, got {x!r}") from exc
    if not np.isfinite(value):
        raise LatentMathError(f"{what} must be a finite number, got {x!r}")
    return value


# ----------------------------------------------------------------------------- classifier


@dataclass(frozen=True)
class LinearClassifier:
    """The VAC classifier head as plain arrays.

    ``weights`` (K, D) and ``biases`` (K,) are the attribute rows in ``names`` order;
    ``fake_weight`` (D,) and ``fake_bias`` form the realness row (sigmoid = P(fake)).
    """

    weights: np.ndarray
    biases: np.ndarray
    names: tuple[str, ...]
    fake_weight: np.ndarray
    fake_bias: float

    def __post_init__(self) -> None:
        weights = np.array(self.weights, dtype=np.float64)
        biases = np.array(self.biases, dtype=np.float64)
        fake_weight = np.array(self.fake_weight, dtype=np.float64)
        names = tuple(str(n) for n in self.names)
        if weights.ndim != 2 or weights.shape[0] == 0 or weights.shape[1] == 0:
            raise LatentMathError(f"weights must have shape (K, D) with K, D >= 1, got {weights.shape}")
        k, d = weights.shape
        if biases.shape != (k,):
            raise LatentMathError(f"biases must have shape ({k},), got {biases.shape}")
        if fake_weight.shape != (d,):
            raise LatentMathError(f"fake_weight must have shape ({d},), got {fake_weight.shape}")
        if len(names) != k or len(set(names)) != k:
            raise LatentMathError(f"need {k} distinct attribute names, got {list(names)}")
        fake_bias = check_finite_number(self.fake_bias, "fake_bias")
        for label, arr in (("weights", weights), ("biases", biases), ("fake_weight", fake_weight)):
            if not np.all(np.isfinite(arr)):
                raise LatentMathError(f"classifier {label} contain non-finite values")
            arr.setflags(write=False)  # frozen means frozen: shared by concurrent requests
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "biases", biases)
        object.__setattr__(self, "fake_weight", fake_weight)
        object.__setattr__(self, "fake_bias", fake_bias)
        object.__setattr__(self, "names", names)
        # Unit rows u_k = w_k / |w_k|, computed once: every edit and auto delta needs one,
        # and a norm per request was 2% of a 64 px /edit's CPU (py-spy). A zero row stays 0.
        norms = np.linalg.norm(weights, axis=1)
        units = np.divide(weights, norms[:, None], out=np.zeros_like(weights), where=norms[:, None] > 0)
        units.setflags(write=False)
        object.__setattr__(self, "_units", units)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> LinearClassifier:
        """Build from ``Manifest.attributes`` (logit order) and ``Manifest.fake_logit``."""
        return cls(
            weights=np.array([a.weight for a in manifest.attributes], dtype=np.float64),
            biases=np.array([a.bias for a in manifest.attributes], dtype=np.float64),
            names=tuple(a.name for a in manifest.attributes),
            fake_weight=np.array(manifest.fake_logit.weight, dtype=np.float64),
            fake_bias=manifest.fake_logit.bias,
        )

    @property
    def latent_dim(self) -> int:
        return int(self.weights.shape[1])

    def index(self, name: str) -> int:
        """Row index of attribute ``name``; a clear error listing the valid names otherwise."""
        try:
            return self.names.index(name)
        except ValueError:
            raise LatentMathError(f"unknown attribute {name!r}; valid attributes: {', '.join(self.names)}") from None

    def weight(self, name: str) -> np.ndarray:
        return self.weights[self.index(name)]

    def check_latents(self, z: np.ndarray) -> np.ndarray:
        """``z`` as a float64 (N, D) array with N >= 1 and finite values, or a clear error."""
        arr = np.asarray(z)
        if arr.ndim != 2 or arr.shape[1] != self.latent_dim or arr.shape[0] == 0:
            raise LatentMathError(f"latents must have shape (N, {self.latent_dim}) with N >= 1, got {arr.shape}")
        if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise LatentMathError(f"latents must be real numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float64, copy=False)
        if not np.all(np.isfinite(arr)):
            raise LatentMathError("latents contain non-finite values")
        return arr

    def logits(self, z: np.ndarray) -> np.ndarray:
        """(N, K) attribute logits ``W z + b``."""
        return self.check_latents(z) @ self.weights.T + self.biases

    def probabilities(self, z: np.ndarray) -> np.ndarray:
        """(N, K) attribute probabilities ``sigmoid(W z + b)``."""
        return sigmoid(self.logits(z))

    def fake_logits(self, z: np.ndarray) -> np.ndarray:
        """(N,) realness-row logits; sigmoid of these is P(fake)."""
        return self.check_latents(z) @ self.fake_weight + self.fake_bias

    def realness(self, z: np.ndarray) -> np.ndarray:
        """(N,) probability that the image is real: 1 - sigmoid(f) = sigmoid(-f)."""
        return sigmoid(-self.fake_logits(z))

    def direction(self, name: str) -> np.ndarray:
        """Unit edit direction ``u_k = w_k / |w_k|`` (paper: z +/- delta w/|w|)."""
        u = self._units[self.index(name)]
        if not u.any():
            raise LatentMathError(f"attribute {name!r} has an all-zero weight row: no edit direction")
        return u


def probabilities_dict(classifier: LinearClassifier, z: np.ndarray) -> list[dict[str, float]]:
    """Per sample, ``{attribute name: probability}`` as plain floats (JSON-ready)."""
    probs = classifier.probabilities(z)
    return [dict(zip(classifier.names, (float(p) for p in row), strict=True)) for row in probs]


# ----------------------------------------------------------------------------- edits


def _check_names(classifier: LinearClassifier, names: Sequence[str], what: str) -> list[str]:
    if isinstance(names, str):
        raise LatentMathError(f"{what} must be a list of attribute names, not the string {names!r}")
    names = list(names)
    for name in names:
        classifier.index(name)
    if len(set(names)) != len(names):
        raise LatentMathError(f"{what} lists an attribute twice: {names}")
    return names


def edit_direction(classifier: LinearClassifier, name: str, preserve: Sequence[str] = ()) -> np.ndarray:
    """Unit direction that moves attribute ``name`` and leaves the ``preserve`` logits fixed.

    Without ``preserve`` this is ``w_k / |w_k|``. With it, ``w_perp = w_k - P w_k`` where
    ``P`` projects onto ``span{w_j : j in preserve}`` (least squares, so linearly
    dependent preserved rows are fine); then ``u = w_perp / |w_perp|``. Since
    ``w_j . u = 0`` for every preserved ``j``, ``logit_j(z + d u) = logit_j(z)`` exactly,
    while ``logit_k`` moves by ``d * (w_k . u) = d * |w_perp|``.
    """
    preserve = _check_names(classifier, preserve, "preserve")
    if name in preserve:
        raise LatentMathError(f"attribute {name!r} cannot be both edited and preserved")
    u = classifier.direction(name)
    if not preserve:
        return u
    w = classifier.weight(name)
    basis = np.stack([classifier.weight(p) for p in preserve], axis=1)  # (D, P)
    coef, *_ = np.linalg.lstsq(basis, w, rcond=None)
    w_perp = w - basis @ coef
    norm = float(np.linalg.norm(w_perp))
    if norm <= _VANISHING_RELATIVE_NORM * float(np.linalg.norm(w)):
        raise LatentMathError(
            f"cannot edit {name!r} while preserving {preserve}: its classifier row lies in their span, "
            "so any change to it changes a preserved attribute"
        )
    return w_perp / norm


def _check_delta(delta, n: int, name: str) -> np.ndarray:
    """A delta is a number or one number per sample (e.g. from :func:`auto_delta`)."""
    try:
        arr = np.asarray(delta, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LatentMathError(f"delta for {name!r} must be a number, got {delta!r}") from exc
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise LatentMathError(f"delta for {name!r} must be a number or have shape ({n},), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise LatentMathError(f"delta for {name!r} must be finite, got {delta!r}")
    return arr


def edit(
    z: np.ndarray,
    classifier: LinearClassifier,
    edits: Sequence[tuple[str, float | np.ndarray]] | Mapping[str, float | np.ndarray],
    preserve: Sequence[str] = (),
) -> np.ndarray:
    """``z_aug = z + sum_k delta_k * u_k`` with ``u_k = edit_direction(k, preserve)``.

    ``delta_k > 0`` adds attribute ``k``, ``< 0`` removes it (paper: z +/- delta w/|w|,
    delta 3 to 5). Each ``delta_k`` is a number or an (N,) array. With ``preserve``
    every edited direction is made orthogonal to the preserved rows, so the preserved
    logits do not change at all. ``edits`` may also be a ``{name: delta}`` mapping.
    Returns an (N, D) array in ``z``'s float dtype.
    """
    out_dtype = np.asarray(z).dtype if np.issubdtype(np.asarray(z).dtype, np.floating) else np.float64
    base = classifier.check_latents(z)
    edits = list(edits.items()) if isinstance(edits, Mapping) else list(edits)
    if not all(isinstance(e, (tuple, list)) and len(e) == 2 for e in edits):
        raise LatentMathError("edits must be (attribute name, delta) pairs")
    names = _check_names(classifier, [e[0] for e in edits], "edits")
    preserve = _check_names(classifier, preserve, "preserve")
    both = sorted(set(names) & set(preserve))
    if both:
        raise LatentMathError(f"attributes cannot be both edited and preserved: {both}")
    out = base.copy()
    for name, delta in edits:
        d = _check_delta(delta, base.shape[0], name)
        out += d[:, None] * edit_direction(classifier, name, preserve)[None, :]
    return out.astype(out_dtype, copy=False)


def auto_delta(
    z: np.ndarray,
    classifier: LinearClassifier,
    name: str,
    target_probability: float = 0.95,
    direction: np.ndarray | None = None,
) -> np.ndarray:
    """Per-sample delta that brings P(name) to ``target_probability`` along ``direction``.

    Along a direction u, ``logit_k(z + d u) = logit_k(z) + d (w_k . u)``, so
    ``d = (logit(p) - logit_k(z)) / (w_k . u)``. The sign is whatever reaches the target
    (small p removes the attribute). ``direction`` defaults to ``w_k / |w_k|``; for a
    conditional edit pass ``edit_direction(classifier, name, preserve)`` and use the
    deltas with ``edit(..., preserve=preserve)``. Returns (N,) float64.
    """
    p = check_probability(target_probability)
    zz = classifier.check_latents(z)
    k = classifier.index(name)
    if direction is None:
        u = classifier.direction(name)
    else:
        u = np.asarray(direction, dtype=np.float64)
        if u.shape != (classifier.latent_dim,) or not np.all(np.isfinite(u)):
            raise LatentMathError(f"direction must be a finite vector of shape ({classifier.latent_dim},)")
    w = classifier.weights[k]
    slope = float(w @ u)
    if abs(slope) <= _VANISHING_RELATIVE_NORM * float(np.linalg.norm(w)) * float(np.linalg.norm(u)):
        raise LatentMathError(f"the direction does not move attribute {name!r} (orthogonal to its row)")
    return (logit(p) - (zz @ w + classifier.biases[k])) / slope


def auto_deltas(
    z: np.ndarray,
    classifier: LinearClassifier,
    targets: Mapping[str, float],
    preserve: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Deltas that bring several attributes to their targets *at once*.

    Editing k along u_k also moves every other edited logit j by ``d_k (w_j . u_k)``,
    so independent :func:`auto_delta` calls miss when directions are not orthogonal.
    With ``M[j, k] = w_j . u_k`` (u from :func:`edit_direction` with ``preserve``) the
    deltas solve ``M d = logit(p) - logit(z)`` for each sample. Feed the result to
    ``edit(z, classifier, list(result.items()), preserve)``. To mix fixed and automatic
    deltas, apply the fixed edit first and call this on the edited z (edits add up).
    """
    zz = classifier.check_latents(z)
    names = _check_names(classifier, list(targets), "targets")
    if not names:
        return {}
    probs = np.array([check_probability(targets[n], f"target probability for {n!r}") for n in names])
    rows = np.stack([classifier.weight(n) for n in names])  # (E, D)
    dirs = np.stack([edit_direction(classifier, n, preserve) for n in names])  # (E, D)
    m = rows @ dirs.T
    current = zz @ rows.T + np.array([classifier.biases[classifier.index(n)] for n in names])
    rhs = logit(probs)[None, :] - current  # (N, E)
    if np.linalg.cond(m) > 1e10:
        raise LatentMathError(
            f"cannot reach separate targets for {names}: their edit directions are (nearly) dependent"
        )
    deltas = np.linalg.solve(m, rhs.T).T  # (N, E)
    return {n: deltas[:, i] for i, n in enumerate(names)}


def apply_edits(
    z: np.ndarray,
    classifier: LinearClassifier,
    pairs: Sequence[tuple[str, float | str]],
    *,
    target: float,
    preserve: Sequence[str] = (),
) -> tuple[np.ndarray, dict[str, float]]:
    """Apply ``(attribute, delta)`` pairs where a delta is a number or ``"auto"``.

    Fixed deltas first, then the closed-form deltas that bring every ``auto`` attribute to
    ``target`` at once (:func:`auto_deltas` accounts for the fixed part). Returns the edited
    latents and the delta used per attribute, in the order of ``pairs``.
    """
    fixed = [(name, float(d)) for name, d in pairs if d != "auto"]
    auto = {name: target for name, d in pairs if d == "auto"}
    z_aug = edit(z, classifier, fixed, preserve) if fixed else z
    used = dict(fixed)
    if auto:
        solved = auto_deltas(z_aug, classifier, auto, preserve)
        z_aug = edit(z_aug, classifier, list(solved.items()), preserve)
        used.update({name: float(value[0]) for name, value in solved.items()})
    return z_aug, {name: used[name] for name, _ in pairs}
