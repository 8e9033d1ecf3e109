"""GET /generate (PNG) and GET /generate/json: sample faces with (or without) attributes, as in the paper.

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
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from service.api.deps import ClassifierDep, CpuWorkDep, ModelDep, SettingsDep
from service.api.errors import ApiError
from service.api.routes.common import b64, check_attributes, wants_json
from service.api.schemas import GeneratedSample, GenerateResponse, errors, header, json_response, png_response
from service.imaging.encode import image_of_batch
from service.latent.draw import PAPER_STEP_SIZE, PAPER_STEPS
from service.latent.edit import LinearClassifier, probabilities_dict
from service.latent.prior import FittedPrior
from service.latent.sampling import SampleResult
from service.runtime import pipeline
from service.runtime.limits import CpuWork
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


# Named enums, not Literals: one $ref'd schema shared by /generate and /generate/json, so SDKs get
# one type. Their docstrings are the schemas' descriptions.
class SamplingMethod(StrEnum):
    """`langevin`: the paper's Langevin dynamics (Eq. 8). `exact`: rejection sampling from the prior."""

    LANGEVIN = "langevin"
    EXACT = "exact"


class LatentPrior(StrEnum):
    """`fitted`: the model's fitted latent prior. `standard`: N(0, I), as in the paper."""

    FITTED = "fitted"
    STANDARD = "standard"


MethodQuery = Annotated[SamplingMethod, Query(description="`langevin` (paper) or exact rejection sampling.")]
PriorQuery = Annotated[
    LatentPrior | None,
    Query(
        description="`fitted`: the model's fitted latent prior (default when it has one); "
        "`standard`: N(0, I) as in the paper."
    ),
]
# Kept for curl users of ``/generate?format=json``, left out of the document (``/generate/json``).
FormatQuery = Annotated[Literal["png", "json"] | None, Query(include_in_schema=False)]


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


@dataclass(frozen=True)
class GeneratePlan:
    """The checked /generate request: every 422 is raised before any sampling starts."""

    conditions: dict[str, bool]
    n: int
    seed: int
    steps: int
    step_size: float
    method: Literal["langevin", "exact"]
    prior_name: str
    prior: FittedPrior | None
    format: Literal["png", "json"] | None  # legacy negotiation of GET /generate; None: the Accept header


async def generate_plan(
    model: ModelDep,
    classifier: ClassifierDep,
    settings: SettingsDep,
    attribute: PresentQuery = None,
    absent: AbsentQuery = None,
    n: CountQuery = 1,
    seed: SeedQuery = None,
    steps: StepsQuery = None,
    step_size: StepSizeQuery = PAPER_STEP_SIZE,
    method: MethodQuery = SamplingMethod.LANGEVIN,
    prior: PriorQuery = None,
    format: FormatQuery = None,
) -> GeneratePlan:
    """The query parameters both /generate and /generate/json take, checked against the model."""
    conditions = _conditions(classifier, attribute or [], absent or [])
    steps = _check_budget(settings, n, steps)
    prior_name, fitted = _pick_prior(model, None if prior is None else prior.value)
    return GeneratePlan(
        conditions=conditions,
        n=n,
        seed=secrets.randbelow(MAX_SEED + 1) if seed is None else seed,
        steps=steps,
        step_size=step_size,
        method=method.value,
        prior_name=prior_name,
        prior=fitted,
        format=format,
    )


GeneratePlanDep = Annotated[GeneratePlan, Depends(generate_plan)]


async def _sample(
    plan: GeneratePlan, model: LoadedModel, classifier: LinearClassifier, work: CpuWork
) -> tuple[SampleResult, np.ndarray, dict[str, str]]:
    """Accepted latents, their decoded images and the X-* headers; 422 when none was accepted."""
    out = await pipeline.generate(
        model,
        classifier,
        method=plan.method,
        conditions=plan.conditions,
        n=plan.n,
        seed=plan.seed,
        steps=plan.steps,
        step_size=plan.step_size,
        prior=plan.prior,
        work=work,  # the sampler runs in the bounded CPU queue with the request deadline
    )
    result = out.result
    headers = {
        "X-Seed": str(plan.seed),
        "X-Prior": plan.prior_name,
        "X-Acceptance-Rate": f"{result.acceptance_rate:.6g}",
        "X-Samples-Requested": str(plan.n),
        "X-Samples-Returned": str(result.z.shape[0]),
    }
    if out.images is None:
        raise _no_samples(result, plan.prior_name, plan.seed, headers)
    return result, out.images, headers


async def _json_body(
    plan: GeneratePlan, model: LoadedModel, classifier: LinearClassifier, result: SampleResult, images: np.ndarray
) -> GenerateResponse:
    value_range = model.manifest.value_range
    pngs = [await run_in_threadpool(image_of_batch, images[i : i + 1], value_range) for i in range(len(images))]
    return GenerateResponse(
        model=model.name,
        method=plan.method,
        prior=plan.prior_name,
        seed=plan.seed,
        requested=plan.n,
        acceptance_rate=result.acceptance_rate,
        samples=[
            GeneratedSample(z=[float(v) for v in z], probabilities=p, image_png_base64=b64(png))
            for z, p, png in zip(result.z, probabilities_dict(classifier, result.z), pngs, strict=True)
        ],
    )


@router.get(
    "/generate",
    name="generate",
    summary="Generate faces with or without attributes",
    response_class=Response,
    responses={
        **png_response("One image (n=1) or a grid (PNG).", headers=_HEADERS),
        **errors(401, 404, 422, 500, 503, 504),
    },
)
async def generate(
    request: Request, plan: GeneratePlanDep, model: ModelDep, classifier: ClassifierDep, work: CpuWorkDep
) -> Response:
    """Sample latents of the class, decode them, return a PNG (grid when n > 1). `GET /generate/json`
    answers the same samples as JSON, each with its latent and probabilities."""
    result, images, headers = await _sample(plan, model, classifier, work)
    # Undocumented, kept for curl users: `format=json` / `Accept: application/json` answer /generate/json.
    if wants_json(request, plan.format):
        body = await _json_body(plan, model, classifier, result, images)
        return JSONResponse(body.model_dump(), headers=headers)
    data = await run_in_threadpool(image_of_batch, images, model.manifest.value_range)
    return Response(content=data, media_type="image/png", headers=headers)


@router.get(
    "/generate/json",
    name="generate_json",
    summary="Generate faces with or without attributes (JSON answer)",
    response_model=GenerateResponse,
    responses={
        **json_response("Every sample with its latent, probabilities and PNG (base64).", headers=_HEADERS),
        **errors(401, 404, 422, 500, 503, 504),
    },
)
async def generate_json(
    response: Response, plan: GeneratePlanDep, model: ModelDep, classifier: ClassifierDep, work: CpuWorkDep
) -> GenerateResponse:
    """What GET /generate does, answered as JSON: one entry per sample (latent, probabilities, PNG)."""
    result, images, headers = await _sample(plan, model, classifier, work)
    response.headers.update(headers)
    return await _json_body(plan, model, classifier, result, images)
