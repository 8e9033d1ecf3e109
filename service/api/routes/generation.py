"""GET /generate: sample faces with (or without) attributes, as in the paper.

Langevin (Eq. 8: ``z <- z - a grad U(z) + sqrt(2a) eps``, defaults a = 2e-4 and 5000 steps,
then rejection of samples the classifier does not assign to the class) or the exact
rejection sampler, both from :mod:`service.latent.sampling`. ``prior=standard`` is the
paper's N(0, I); ``prior=fitted`` (the default when the model folder has one) is the
mixture fitted to encoded training faces (:mod:`service.latent.prior`), whose samples
look like the training data where N(0, I) samples of a briefly trained model do not.
The numpy loop runs in the thread pool; decoding goes through the model's batcher. Seeds make results reproducible:
the same seed (and parameters) gives the same PNG bytes; without one a random seed is
drawn and returned in ``X-Seed``.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import ClassifierDep, ModelDep, SettingsDep
from service.api.errors import ApiError
from service.api.routes.common import b64, check_attributes, png_of_batch, wants_json
from service.api.schemas import GeneratedSample, GenerateResponse, errors, header, png_response
from service.latent.edit import probabilities_dict
from service.latent.prior import FittedPrior
from service.latent.sampling import SampleResult, exact_sample, langevin_sample
from service.runtime.registry import LoadedModel

router = APIRouter(tags=["generation"])

PAPER_STEPS = 5000
PAPER_STEP_SIZE = 2e-4
MAX_SEED = 2**32 - 1
# Proposals the exact sampler may draw per request: bounds its latency for rare classes.
EXACT_MAX_PROPOSALS = 1 << 18

_HEADERS = {
    "X-Seed": header("Seed used (send it back as `seed` to reproduce).", "integer"),
    "X-Prior": header("Latent prior used: `fitted` or `standard`.", "string"),
    "X-Acceptance-Rate": header("Accepted / proposed latents.", "number"),
    "X-Samples-Requested": header("n.", "integer"),
    "X-Samples-Returned": header("Samples in the response; fewer than n when the budget ran out.", "integer"),
}


def _run_sampler(
    method: str,
    classifier,
    conditions: dict[str, bool],
    n: int,
    seed: int,
    steps: int,
    step_size: float,
    prior: FittedPrior | None,
) -> SampleResult:
    rng = np.random.default_rng(seed)
    if method == "exact":
        return exact_sample(classifier, conditions, n, rng, max_proposals=EXACT_MAX_PROPOSALS, prior=prior)
    return langevin_sample(classifier, conditions, n, rng, steps=steps, step_size=step_size, prior=prior)


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
    attribute: Annotated[
        list[str] | None, Query(max_length=32, description="Attribute the samples must have; repeatable.")
    ] = None,
    absent: Annotated[
        list[str] | None, Query(max_length=32, description="Attribute the samples must NOT have; repeatable.")
    ] = None,
    n: Annotated[int, Query(ge=1, le=256, description="Number of samples (at most the server's max_generate_n).")] = 1,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED, description="Random seed; same seed, same bytes.")] = None,
    steps: Annotated[
        int | None,
        Query(ge=1, le=1_000_000, description=f"Langevin steps (default {PAPER_STEPS}, at most max_langevin_steps)."),
    ] = None,
    step_size: Annotated[
        float, Query(gt=0, le=1, allow_inf_nan=False, description="Langevin step size alpha.")
    ] = PAPER_STEP_SIZE,
    method: Annotated[
        Literal["langevin", "exact"], Query(description="`langevin` (paper) or exact rejection sampling.")
    ] = "langevin",
    prior: Annotated[
        Literal["fitted", "standard"] | None,
        Query(
            description="`fitted`: the model's fitted latent prior (default when it has one); "
            "`standard`: N(0, I) as in the paper."
        ),
    ] = None,
    format: Annotated[
        Literal["png", "json"] | None, Query(description="`json`: every sample with its latent and PNG.")
    ] = None,
) -> Response:
    """Sample latents of the class, decode them, return a PNG (grid when n > 1)."""
    present, missing = attribute or [], absent or []
    check_attributes(classifier, present, "attribute")
    check_attributes(classifier, missing, "absent")
    both = sorted(set(present) & set(missing))
    if both:
        raise ApiError(422, "invalid_parameters", f"attribute(s) both required and absent: {', '.join(both)}")
    if n > settings.max_generate_n:
        raise ApiError(422, "out_of_range", f"n must be <= {settings.max_generate_n}, got {n}")
    if steps is None:
        steps = min(PAPER_STEPS, settings.max_langevin_steps)
    elif steps > settings.max_langevin_steps:
        raise ApiError(422, "out_of_range", f"steps must be <= {settings.max_langevin_steps}, got {steps}")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    conditions = {**{a: True for a in present}, **{a: False for a in missing}}
    prior_name, fitted = _pick_prior(model, prior)

    result = await run_in_threadpool(_run_sampler, method, classifier, conditions, n, seed, steps, step_size, fitted)
    headers = {
        "X-Seed": str(seed),
        "X-Prior": prior_name,
        "X-Acceptance-Rate": f"{result.acceptance_rate:.6g}",
        "X-Samples-Requested": str(n),
        "X-Samples-Returned": str(result.z.shape[0]),
    }
    if result.z.shape[0] == 0:
        raise ApiError(
            422,
            "no_samples_accepted",
            f"no sample was assigned to the requested attributes after {result.proposals} proposals; "
            + (
                "the model's fitted prior rarely has them: try prior=standard, method=exact, or another seed"
                if prior_name == "fitted"
                else "try more steps, another seed, or method=exact"
            ),
            {"proposals": result.proposals, "acceptance_rate": result.acceptance_rate, "seed": seed},
            headers,
        )
    images = await model.decode(result.z)
    value_range = model.manifest.value_range
    if wants_json(request, format):
        pngs = [await run_in_threadpool(png_of_batch, images[i : i + 1], value_range) for i in range(len(images))]
        probs = probabilities_dict(classifier, result.z)
        body = GenerateResponse(
            model=model.name,
            method=method,
            prior=prior_name,
            seed=seed,
            requested=n,
            acceptance_rate=result.acceptance_rate,
            samples=[
                GeneratedSample(z=[float(v) for v in z], probabilities=p, image_png_base64=b64(png))
                for z, p, png in zip(result.z, probs, pngs, strict=True)
            ],
        )
        return JSONResponse(body.model_dump(), headers=headers)
    data = await run_in_threadpool(png_of_batch, images, value_range)
    return Response(content=data, media_type="image/png", headers=headers)
