"""GET /generate: sample faces with (or without) attributes, as in the paper.

Langevin (Eq. 8: ``z <- z - a grad U(z) + sqrt(2a) eps``, defaults a = 2e-4 and 5000 steps,
then rejection of samples the classifier does not assign to the class) or the exact
rejection sampler, both from :mod:`service.latent.sampling`. ``prior=standard`` is the
paper's N(0, I); ``prior=fitted`` (the default when the model folder has one) is the
mixture fitted to encoded training faces (:mod:`service.latent.prior`), whose samples
look like the training data where N(0, I) samples of a briefly trained model do not.
The route parses and checks its parameters and calls :func:`service.runtime.pipeline.generate`. Seeds make results reproducible:
the same seed (and parameters) gives the same PNG bytes; without one a random seed is
drawn and returned in ``X-Seed``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import ClassifierDep, ModelDep, SettingsDep, cpu_work
from service.api.errors import ApiError
from service.api.routes.common import b64, check_attributes, wants_json
from service.api.schemas import GeneratedSample, GenerateResponse, errors, header, png_response
from service.imaging.encode import png_of_batch
from service.latent.draw import PAPER_STEP_SIZE, PAPER_STEPS
from service.latent.edit import probabilities_dict
from service.latent.prior import FittedPrior
from service.runtime import pipeline
from service.runtime.registry import LoadedModel
from service.settings import Settings

router = APIRouter(tags=["generation"])

MAX_SEED = 2**32 - 1

_HEADERS = {
    "X-Seed": header("Seed used (send it back as `seed` to reproduce).", "integer"),
    "X-Prior": header("Latent prior used: `fitted` or `standard`.", "string"),
    "X-Acceptance-Rate": header("Accepted / proposed latents.", "number"),
    "X-Samples-Requested": header("n.", "integer"),
    "X-Samples-Returned": header("Samples in the response; fewer than n when the budget ran out.", "integer"),
}

PresentQuery = Annotated[
    list[str] | None, Query(max_length=32, description="Attribute the samples must have; repeatable.")
]
AbsentQuery = Annotated[
    list[str] | None, Query(max_length=32, description="Attribute the samples must NOT have; repeatable.")
]
CountQuery = Annotated[int, Query(ge=1, le=256, description="Number of samples (at most the server's max_generate_n).")]
SeedQuery = Annotated[int | None, Query(ge=0, le=MAX_SEED, description="Random seed; same seed, same bytes.")]
StepsQuery = Annotated[
    int | None,
    Query(ge=1, le=1_000_000, description=f"Langevin steps (default {PAPER_STEPS}, at most max_langevin_steps)."),
]
StepSizeQuery = Annotated[float, Query(gt=0, le=1, allow_inf_nan=False, description="Langevin step size alpha.")]
MethodQuery = Annotated[
    Literal["langevin", "exact"], Query(description="`langevin` (paper) or exact rejection sampling.")
]
PriorQuery = Annotated[
    Literal["fitted", "standard"] | None,
    Query(
        description="`fitted`: the model's fitted latent prior (default when it has one); "
        "`standard`: N(0, I) as in the paper."
    ),
]
FormatQuery = Annotated[
    Literal["png", "json"] | None, Query(description="`json`: every sample with its latent and PNG.")
]


def _pick_prior(model: LoadedModel, requested: str | None) -> tuple[str, FittedPrior | None]:
    """``None`` means the model's best: its fitted prior when it has one."""
    if requested == "fitted" and model.prior is None:
        raise ApiError(
            422,
            "no_fitted_prior",
            f"model {model.name!r} has no fitted latent prior; use prior=standard "
            "(or add one with `python -m training fit-prior`)",
        )
    if requested == "standard" or model.prior is None:
        return "standard", None
    return "fitted", model.prior


def _conditions(classifier, present: list[str], missing: list[str]) -> dict[str, bool]:
    check_attributes(classifier, present, "attribute")
    check_attributes(classifier, missing, "absent")
    both = sorted(set(present) & set(missing))
    if both:
        raise ApiError(422, "invalid_parameters", f"attribute(s) both required and absent: {', '.join(both)}")
    return {**{a: True for a in present}, **{a: False for a in missing}}


def _check_budget(settings: Settings, n: int, steps: int | None) -> int:
    """The server's caps on n and steps; returns the steps to run."""
    if n > settings.max_generate_n:
        raise ApiError(422, "out_of_range", f"n must be <= {settings.max_generate_n}, got {n}")
    if steps is None:
        return min(PAPER_STEPS, settings.max_langevin_steps)
    if steps > settings.max_langevin_steps:
        raise ApiError(422, "out_of_range", f"steps must be <= {settings.max_langevin_steps}, got {steps}")
    return steps


def _no_samples(result, prior_name: str, seed: int, headers: dict[str, str]) -> ApiError:
    hint = (
        "the model's fitted prior rarely has them: try prior=standard, method=exact, or another seed"
        if prior_name == "fitted"
        else "try more steps, another seed, or method=exact"
    )
    return ApiError(
        422,
        "no_samples_accepted",
        f"no sample was assigned to the requested attributes after {result.proposals} proposals; " + hint,
        {"proposals": result.proposals, "acceptance_rate": result.acceptance_rate, "seed": seed},
        headers,
    )


@router.get(
    "/generate",
    name="generate",
    summary="Generate faces with or without attributes",
    response_class=Response,
    responses={
        **png_response(
            "One image (n=1) or a grid (PNG); `format=json` gives GenerateResponse.", GenerateResponse, _HEADERS
        ),
        **errors(401, 404, 422, 500, 503, 504),
    },
)
async def generate(
    request: Request,
    model: ModelDep,
    classifier: ClassifierDep,
    settings: SettingsDep,
    attribute: PresentQuery = None,
    absent: AbsentQuery = None,
    n: CountQuery = 1,
    seed: SeedQuery = None,
    steps: StepsQuery = None,
    step_size: StepSizeQuery = PAPER_STEP_SIZE,
    method: MethodQuery = "langevin",
    prior: PriorQuery = None,
    format: FormatQuery = None,
) -> Response:
    """Sample latents of the class, decode them, return a PNG (grid when n > 1)."""
    conditions = _conditions(classifier, attribute or [], absent or [])
    steps = _check_budget(settings, n, steps)
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else seed
    prior_name, fitted = _pick_prior(model, prior)
    out = await pipeline.generate(
        model,
        classifier,
        method=method,
        conditions=conditions,
        n=n,
        seed=seed,
        steps=steps,
        step_size=step_size,
        prior=fitted,
        work=cpu_work(request),
    )
    result = out.result
    headers = {
        "X-Seed": str(seed),
        "X-Prior": prior_name,
        "X-Acceptance-Rate": f"{result.acceptance_rate:.6g}",
        "X-Samples-Requested": str(n),
        "X-Samples-Returned": str(result.z.shape[0]),
    }
    if out.images is None:
        raise _no_samples(result, prior_name, seed, headers)
    value_range = model.manifest.value_range
    if not wants_json(request, format):
        data = await run_in_threadpool(png_of_batch, out.images, value_range)
        return Response(content=data, media_type="image/png", headers=headers)
    pngs = [await run_in_threadpool(png_of_batch, out.images[i : i + 1], value_range) for i in range(len(out.images))]
    body = GenerateResponse(
        model=model.name,
        method=method,
        prior=prior_name,
        seed=seed,
        requested=n,
        acceptance_rate=result.acceptance_rate,
        samples=[
            GeneratedSample(z=[float(v) for v in z], probabilities=p, image_png_base64=b64(png))
            for z, p, png in zip(result.z, probabilities_dict(classifier, result.z), pngs, strict=True)
        ],
    )
    return JSONResponse(body.model_dump(), headers=headers)
