"""Text sections of the model card that describe the model itself (data, attributes,
architecture, training, limits), from its manifest and the synthfaces constants.

Pure functions of a :class:`service.artifact.Manifest`; :mod:`training.evaluation.model_card`
puts them together with the evaluation figures.
"""

from __future__ import annotations

from service.artifact import Manifest
from training.data.synthfaces import truth
from training.data.synthfaces.render import DEFAULT_SUPERSAMPLE
from training.evaluation.report import fmt, table

# What each synthfaces attribute looks like (training/data/synthfaces/render.py).
ATTRIBUTE_LOOKS = {
    "eyeglasses": "tinted lenses under dark frames, round or square (`glasses_style`)",
    "facial_hair": "full beard, goatee or moustache (`beard_style`) in darkened hair colour",
    "male": "heavier square jaw, heavy straight brows, sideburns, short hair (short / quiff / buzz); "
    "otherwise thin arched brows and long hair / bob / bangs",
    "smiling": "open 'D' smile with a row of teeth; otherwise closed lips with corners slightly down",
}


def attribute_priors() -> dict[str, str]:
    """Prior of each synthfaces attribute, from the generator's constants."""
    p_fh = truth.P_MALE * truth.P_FACIAL_HAIR_MALE + (1 - truth.P_MALE) * truth.P_FACIAL_HAIR_FEMALE
    return {
        "eyeglasses": f"{truth.P_EYEGLASSES:.0%}, independent",
        "facial_hair": (
            f"{p_fh:.1%} overall: {truth.P_FACIAL_HAIR_MALE:.0%} of men, "
            f"{truth.P_FACIAL_HAIR_FEMALE:.0%} of women (correlated with male)"
        ),
        "male": f"{truth.P_MALE:.0%}",
        "smiling": f"{truth.P_SMILING:.0%}, independent",
    }


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "not recorded"
    return f"{seconds:.0f} s ({seconds / 3600:.2f} h)"


def bullets(*items: str) -> str:
    return "".join(f"- {item}\n" for item in items)


def architecture_section(m: Manifest) -> str:
    channels = m.provenance.architecture.get("channels", [])
    files = ", ".join(f"`{f.name}` ({f.bytes:,} bytes, sha256 {f.sha256[:12]}…)" for f in m.files.values())
    return bullets(
        f"Input and output: {m.image_size}x{m.image_size} RGB, float32 NCHW in {list(m.value_range)}.",
        (
            f"Encoder: {len(channels)} residual stages of {channels} channels (conv3x3-LeakyReLU-conv3x3 with skip), "
            f"2x average pooling after each, linear head to 2 x {m.latent_dim} (mean, log-variance). No BatchNorm."
        ),
        (
            "Decoder: the encoder mirrored (linear head, residual stages with 2x nearest upsampling), ending in a "
            "conv3x3 and a sigmoid."
        ),
        (
            f"Classifier: one linear layer on z, {len(m.attributes)} attribute logits "
            f"({', '.join(m.attribute_names)}) plus one realness ('fake') logit."
        ),
        (
            f"Latent size {m.latent_dim}. An edit moves the encoder mean by delta * w_k/|w_k| (w_k: the attribute's "
            "classifier row) and decodes it."
        ),
        f"Exported files: {files}.",
        (
            "Generation prior: N(0, I) (the paper's) only."
            if m.latent_prior is None
            else f"Generation prior (`{m.files['latent_prior'].name}`, the /generate default): {m.latent_prior.components} "
            "Gaussians, one "
            f"per attribute combination, sharing one covariance, fitted to the encoder means of "
            f"{m.latent_prior.n_images:,} {m.latent_prior.dataset} {m.latent_prior.split} faces; `prior=standard` "
            "uses N(0, I)."
        ),
        (
            f"ONNX opset {m.export.onnx_opset}; largest |ONNX Runtime - torch| at export "
            f"{fmt(m.export.parity_max_abs_error)} (tolerance {fmt(m.export.parity_tolerance)})."
        ),
    )


def data_section(m: Manifest) -> str:
    cfg = m.provenance.training_config
    if m.provenance.dataset != "synthfaces":
        return f"Trained on `{m.provenance.dataset}` (training settings below).\n"
    factors = ", ".join(
        f"`{n}` ({kind}{'' if c is None else f', {c} classes'})" for n, (kind, c) in truth.NUISANCE_SPEC.items()
    )
    return (
        f"**synthfaces**: procedurally drawn cartoon faces rendered on the fly (Pillow, drawn "
        f"{DEFAULT_SUPERSAMPLE}x larger then box-filtered down), every image a pure function of (seed, index), "
        f"with exact ground truth. Training used {fmt(cfg.get('synth_train_size'))} faces of the train split "
        f"(universe seed {fmt(cfg.get('seed'))}); val and test are disjoint fixed index ranges, never "
        "trained on.\n\n"
        f"Nuisance factors, drawn independently of the attributes: {factors}.\n"
    )


def attributes_section(m: Manifest) -> str:
    priors = attribute_priors()
    rows = [
        [
            f"`{a.name}`",
            i,
            fmt(a.recommended_delta),
            a.description or ATTRIBUTE_LOOKS.get(a.name, "–"),
            priors.get(a.name, "–"),
            "yes" if a.name in truth.MASK_NAMES else "no",
        ]
        for i, a in enumerate(m.attributes)
    ]
    return table(["attribute", "logit", "recommended delta", "looks like", "prior in the data", "pixel mask"], rows)


def training_section(m: Manifest, command: str, hardware: str, wall_time_s: float | None) -> str:
    p = m.provenance
    cfg = {k: v for k, v in p.training_config.items() if v not in (None, {}, [])}
    settings = table(["training setting", "value"], [[f"`{k}`", f"`{v}`"] for k, v in cfg.items()])
    return (
        f"```\n{command}\n```\n\n"
        f"Mode `{p.mode}`, {fmt(p.epochs)} epochs, {p.steps:,} optimizer steps, "
        f"wall time {duration(wall_time_s)}, on {hardware}. "
        f"Git commit `{p.git_commit or 'unknown'}`, exported {p.created_at}.\n\n{settings}"
    )


def preprocessing_section(m: Manifest) -> str:
    """What the model was trained on and what the service does to an upload before encoding it."""
    side = f"{m.image_size}x{m.image_size}"
    trained = (
        f"Faces are rendered directly at {side}"
        if m.provenance.dataset == "synthfaces"
        else f"Training images are cropped and resized to {side} by the dataset loader"
    )
    common = (
        f"{trained}; pixels are RGB scaled to float32 in {list(m.value_range)} (NCHW), with no augmentation and no "
        "normalisation. At serving time an upload is oriented by EXIF and made RGB (transparency over white)"
    )
    if m.alignment is None:
        return f"{common}, centre-cropped to a square and resized to {side}; this manifest has no alignment template.\n"
    a = m.alignment
    eyes = (
        f"left eye ({a.left_eye[0]:.3f}, {a.left_eye[1]:.3f}), right eye ({a.right_eye[0]:.3f}, {a.right_eye[1]:.3f})"
    )
    return (
        f"{common}. With `align=auto` (the default) the detected face is warped by a similarity transform that puts "
        f"its eyes where the training faces have them (template `{a.method}`: {eyes}, fractions of the side), "
        f"then resized to {side}; an upload where no face is found is centre-cropped to a square instead.\n"
    )


# A factor the oracle reads alike on fewer faces than this (or with a lower correlation) is
# named in the card's limits: an edit redraws it rather than keeping it.
FACTOR_KEPT_LIMIT = 0.7


def limits_section(m: Manifest, report: dict | None = None) -> str:
    """The model's limits; with its evaluation ``report``, also the factors its reconstructions lose."""
    lost = factors_lost(report)
    return bullets(
        (
            "**Drawn faces, not photos.** The model has only seen synthfaces cartoons; it was never evaluated on "
            "photographs, where its reconstructions and attribute directions are not expected to hold. For photos, "
            "train on CelebA (`python -m training train --dataset celeba --data-root <folder>`) and evaluate that "
            "model separately."
        ),
        (
            f"{m.image_size}x{m.image_size} pixels only: the aligned face (or the centre square) is resized to this, "
            "so fine detail is lost; `detail=residual` pastes only the change back into the photo at its own size."
        ),
        (
            f"Only {', '.join(m.attribute_names)} can be edited or sampled; the figures above hold for synthfaces "
            "test images, judged by an oracle CNN that is itself trained on synthfaces."
        ),
        (
            "Facial hair is correlated with male in the data: an edit can leak into the correlated attribute; use "
            "`preserve` when that matters (flip rates above)."
        ),
        (
            "Fréchet distances are in the oracle's feature space, not Inception FID: compare ratios with the "
            "paper, not values."
        ),
        *([lost] if lost else []),
        typicality_limit(m),
    )


def factors_lost(report: dict | None) -> str | None:
    """A limit naming the nuisance factors the reconstructions keep worst (``factors_kept``)."""
    kept = (report or {}).get("reconstruction", {}).get("factors_kept") or {}
    worst = sorted((v, n) for n, v in kept.items() if v is not None and v < FACTOR_KEPT_LIMIT)
    if not worst:
        return None
    listed = ", ".join(f"{name} ({value:.2f})" for value, name in worst)
    return (
        "**Not every detail survives.** The latent code does not carry all of a face: the oracle reads these "
        f"factors alike on a face and its reconstruction less than {FACTOR_KEPT_LIMIT:.0%} of the time "
        f"(share of faces, or correlation): {listed}. A reconstruction or an edit draws its own version of them "
        '(benchmarks/RESULTS.md, "what the reconstruction Fréchet is made of, per factor").'
    )


def typicality_limit(m: Manifest) -> str:
    """What the service says about images unlike the training data (``Manifest.typicality``)."""
    if m.typicality is None:
        return "No typicality calibration: responses carry no out-of-domain signal (`fit-prior` adds one)."
    t = m.typicality
    return (
        f"**Out-of-domain images are flagged.** `/encode` and `/edit` report `typicality` and `X-In-Distribution`: "
        f"the {t.prior} prior's log-density of the encoder mean and the reconstruction error, as percentiles of "
        f"{t.n_images} {'training' if t.split == 'train' else 'held-out'} `{t.split}` images; below percentile {t.threshold_percentile:g} an image is out of "
        'the model\'s domain (measured separation: benchmarks/RESULTS.md, "Out-of-domain signal").'
    )


def licence_section(m: Manifest) -> str:
    """The licences a user of the exported model must know: the model's, and the weights it relies on."""
    data = (
        "synthfaces are drawn by this project's own renderer, so no third-party image licence applies"
        if m.provenance.dataset == "synthfaces"
        else "CelebA is for non-commercial research only (its agreement binds models trained on it)"
    )
    return bullets(
        f"The model (weights, ONNX and TorchScript files, prior and manifest) is released under Apache-2.0, the "
        f"licence of this repository (`LICENSE`); its training data: {data}.",
        "The service detects faces with dlib's HOG detector and the 5-point landmark model "
        "(`shape_predictor_5_face_landmarks.dat` from the `face-recognition-models` package): dlib is under the "
        "Boost Software License; its author released that model into the public domain, trained on images he "
        "annotated himself (the 68-point model, whose training data excludes commercial use, is not used).",
        "The evaluation oracle (`training/evaluation/weights/`) is trained by this project on synthfaces "
        "(Apache-2.0). ONNX Runtime (MIT), PyTorch (BSD-3-Clause) and the other dependencies keep their own licences.",
    )
