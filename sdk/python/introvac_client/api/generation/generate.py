from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.error_body import ErrorBody
from ...models.latent_prior import check_latent_prior
from ...models.latent_prior import LatentPrior
from ...models.sampling_method import check_sampling_method
from ...models.sampling_method import SamplingMethod
from ...types import File, FileTypes
from ...types import UNSET, Unset
from io import BytesIO
from typing import cast



def _get_kwargs(
    *,
    attribute: list[str] | Unset = UNSET,
    absent: list[str] | Unset = UNSET,
    n: int | Unset = 1,
    seed: int | Unset = UNSET,
    steps: int | Unset = UNSET,
    step_size: float | Unset = 0.0002,
    method: SamplingMethod | Unset = UNSET,
    prior: LatentPrior | Unset = UNSET,
    model: str | Unset = UNSET,

) -> dict[str, Any]:
    

    

    params: dict[str, Any] = {}

    json_attribute: list[str] | Unset = UNSET
    if not isinstance(attribute, Unset):
        json_attribute = attribute


    params["attribute"] = json_attribute

    json_absent: list[str] | Unset = UNSET
    if not isinstance(absent, Unset):
        json_absent = absent


    params["absent"] = json_absent

    params["n"] = n

    params["seed"] = seed

    params["steps"] = steps

    params["step_size"] = step_size

    json_method: str | Unset = UNSET
    if not isinstance(method, Unset):
        json_method = method

    params["method"] = json_method

    json_prior: str | Unset = UNSET
    if not isinstance(prior, Unset):
        json_prior = prior

    params["prior"] = json_prior

    params["model"] = model


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/generate",
        "params": params,
    }


    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | File | None:
    if response.status_code == 200:
        response_200 = File(
             payload = BytesIO(response.content)
        )



        return response_200

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())



        return response_422

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())



        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())



        return response_503

    if response.status_code == 504:
        response_504 = ErrorBody.from_dict(response.json())



        return response_504

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[ErrorBody | File]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    attribute: list[str] | Unset = UNSET,
    absent: list[str] | Unset = UNSET,
    n: int | Unset = 1,
    seed: int | Unset = UNSET,
    steps: int | Unset = UNSET,
    step_size: float | Unset = 0.0002,
    method: SamplingMethod | Unset = UNSET,
    prior: LatentPrior | Unset = UNSET,
    model: str | Unset = UNSET,

) -> Response[ErrorBody | File]:
    """ Generate faces with or without attributes

     Sample latents of the class, decode them, return a PNG (grid when n > 1). `GET /generate/json`
    answers the same samples as JSON, each with its latent and probabilities.

    Args:
        attribute (list[str] | Unset): Attribute the samples must have; repeatable.
        absent (list[str] | Unset): Attribute the samples must NOT have; repeatable.
        n (int | Unset): Number of samples (at most the server's max_generate_n). Default: 1.
        seed (int | Unset): Random seed; same seed, same bytes.
        steps (int | Unset): Langevin steps (default 5000, at most max_langevin_steps).
        step_size (float | Unset): Langevin step size alpha. Default: 0.0002.
        method (SamplingMethod | Unset): `langevin`: the paper's Langevin dynamics (Eq. 8).
            `exact`: rejection sampling from the prior.
        prior (LatentPrior | Unset): `fitted`: the model's fitted latent prior. `standard`: N(0,
            I), as in the paper.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | File]
     """


    kwargs = _get_kwargs(
        attribute=attribute,
absent=absent,
n=n,
seed=seed,
steps=steps,
step_size=step_size,
method=method,
prior=prior,
model=model,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    attribute: list[str] | Unset = UNSET,
    absent: list[str] | Unset = UNSET,
    n: int | Unset = 1,
    seed: int | Unset = UNSET,
    steps: int | Unset = UNSET,
    step_size: float | Unset = 0.0002,
    method: SamplingMethod | Unset = UNSET,
    prior: LatentPrior | Unset = UNSET,
    model: str | Unset = UNSET,

) -> ErrorBody | File | None:
    """ Generate faces with or without attributes

     Sample latents of the class, decode them, return a PNG (grid when n > 1). `GET /generate/json`
    answers the same samples as JSON, each with its latent and probabilities.

    Args:
        attribute (list[str] | Unset): Attribute the samples must have; repeatable.
        absent (list[str] | Unset): Attribute the samples must NOT have; repeatable.
        n (int | Unset): Number of samples (at most the server's max_generate_n). Default: 1.
        seed (int | Unset): Random seed; same seed, same bytes.
        steps (int | Unset): Langevin steps (default 5000, at most max_langevin_steps).
        step_size (float | Unset): Langevin step size alpha. Default: 0.0002.
        method (SamplingMethod | Unset): `langevin`: the paper's Langevin dynamics (Eq. 8).
            `exact`: rejection sampling from the prior.
        prior (LatentPrior | Unset): `fitted`: the model's fitted latent prior. `standard`: N(0,
            I), as in the paper.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | File
     """


    return sync_detailed(
        client=client,
attribute=attribute,
absent=absent,
n=n,
seed=seed,
steps=steps,
step_size=step_size,
method=method,
prior=prior,
model=model,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    attribute: list[str] | Unset = UNSET,
    absent: list[str] | Unset = UNSET,
    n: int | Unset = 1,
    seed: int | Unset = UNSET,
    steps: int | Unset = UNSET,
    step_size: float | Unset = 0.0002,
    method: SamplingMethod | Unset = UNSET,
    prior: LatentPrior | Unset = UNSET,
    model: str | Unset = UNSET,

) -> Response[ErrorBody | File]:
    """ Generate faces with or without attributes

     Sample latents of the class, decode them, return a PNG (grid when n > 1). `GET /generate/json`
    answers the same samples as JSON, each with its latent and probabilities.

    Args:
        attribute (list[str] | Unset): Attribute the samples must have; repeatable.
        absent (list[str] | Unset): Attribute the samples must NOT have; repeatable.
        n (int | Unset): Number of samples (at most the server's max_generate_n). Default: 1.
        seed (int | Unset): Random seed; same seed, same bytes.
        steps (int | Unset): Langevin steps (default 5000, at most max_langevin_steps).
        step_size (float | Unset): Langevin step size alpha. Default: 0.0002.
        method (SamplingMethod | Unset): `langevin`: the paper's Langevin dynamics (Eq. 8).
            `exact`: rejection sampling from the prior.
        prior (LatentPrior | Unset): `fitted`: the model's fitted latent prior. `standard`: N(0,
            I), as in the paper.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | File]
     """


    kwargs = _get_kwargs(
        attribute=attribute,
absent=absent,
n=n,
seed=seed,
steps=steps,
step_size=step_size,
method=method,
prior=prior,
model=model,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    attribute: list[str] | Unset = UNSET,
    absent: list[str] | Unset = UNSET,
    n: int | Unset = 1,
    seed: int | Unset = UNSET,
    steps: int | Unset = UNSET,
    step_size: float | Unset = 0.0002,
    method: SamplingMethod | Unset = UNSET,
    prior: LatentPrior | Unset = UNSET,
    model: str | Unset = UNSET,

) -> ErrorBody | File | None:
    """ Generate faces with or without attributes

     Sample latents of the class, decode them, return a PNG (grid when n > 1). `GET /generate/json`
    answers the same samples as JSON, each with its latent and probabilities.

    Args:
        attribute (list[str] | Unset): Attribute the samples must have; repeatable.
        absent (list[str] | Unset): Attribute the samples must NOT have; repeatable.
        n (int | Unset): Number of samples (at most the server's max_generate_n). Default: 1.
        seed (int | Unset): Random seed; same seed, same bytes.
        steps (int | Unset): Langevin steps (default 5000, at most max_langevin_steps).
        step_size (float | Unset): Langevin step size alpha. Default: 0.0002.
        method (SamplingMethod | Unset): `langevin`: the paper's Langevin dynamics (Eq. 8).
            `exact`: rejection sampling from the prior.
        prior (LatentPrior | Unset): `fitted`: the model's fitted latent prior. `standard`: N(0,
            I), as in the paper.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | File
     """


    return (await asyncio_detailed(
        client=client,
attribute=attribute,
absent=absent,
n=n,
seed=seed,
steps=steps,
step_size=step_size,
method=method,
prior=prior,
model=model,

    )).parsed
