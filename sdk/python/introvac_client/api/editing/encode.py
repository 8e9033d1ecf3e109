from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.encode_align import check_encode_align
from ...models.encode_align import EncodeAlign
from ...models.encode_response import EncodeResponse
from ...models.error_body import ErrorBody
from ...models.image_upload import ImageUpload
from ...types import UNSET, Unset
from typing import cast



def _get_kwargs(
    *,
    body: ImageUpload,
    align: EncodeAlign | Unset = 'auto',
    face: str | Unset = 'largest',
    model: str | Unset = UNSET,

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    params: dict[str, Any] = {}

    json_align: str | Unset = UNSET
    if not isinstance(align, Unset):
        json_align = align

    params["align"] = json_align

    params["face"] = face

    params["model"] = model


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/encode",
        "params": params,
    }

    _kwargs["files"] = body.to_multipart()

    headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> EncodeResponse | ErrorBody | None:
    if response.status_code == 200:
        response_200 = EncodeResponse.from_dict(response.json())



        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())



        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())



        return response_401

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())



        return response_404

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())



        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())



        return response_415

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[EncodeResponse | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    align: EncodeAlign | Unset = 'auto',
    face: str | Unset = 'largest',
    model: str | Unset = UNSET,

) -> Response[EncodeResponse | ErrorBody]:
    """ Encode an image into the latent space

     Latent mean and log-variance, attribute probabilities, realness and typicality of the uploaded
    image (of its face, aligned to the model's training crop, unless `align=centre`).

    Args:
        align (EncodeAlign | Unset): `auto`: align the face to the model's training crop when one
            is found, else the centre square; an upload no larger than the model's input is taken as
            aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EncodeResponse | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
align=align,
face=face,
model=model,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    align: EncodeAlign | Unset = 'auto',
    face: str | Unset = 'largest',
    model: str | Unset = UNSET,

) -> EncodeResponse | ErrorBody | None:
    """ Encode an image into the latent space

     Latent mean and log-variance, attribute probabilities, realness and typicality of the uploaded
    image (of its face, aligned to the model's training crop, unless `align=centre`).

    Args:
        align (EncodeAlign | Unset): `auto`: align the face to the model's training crop when one
            is found, else the centre square; an upload no larger than the model's input is taken as
            aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EncodeResponse | ErrorBody
     """


    return sync_detailed(
        client=client,
body=body,
align=align,
face=face,
model=model,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    align: EncodeAlign | Unset = 'auto',
    face: str | Unset = 'largest',
    model: str | Unset = UNSET,

) -> Response[EncodeResponse | ErrorBody]:
    """ Encode an image into the latent space

     Latent mean and log-variance, attribute probabilities, realness and typicality of the uploaded
    image (of its face, aligned to the model's training crop, unless `align=centre`).

    Args:
        align (EncodeAlign | Unset): `auto`: align the face to the model's training crop when one
            is found, else the centre square; an upload no larger than the model's input is taken as
            aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EncodeResponse | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
align=align,
face=face,
model=model,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    align: EncodeAlign | Unset = 'auto',
    face: str | Unset = 'largest',
    model: str | Unset = UNSET,

) -> EncodeResponse | ErrorBody | None:
    """ Encode an image into the latent space

     Latent mean and log-variance, attribute probabilities, realness and typicality of the uploaded
    image (of its face, aligned to the model's training crop, unless `align=centre`).

    Args:
        align (EncodeAlign | Unset): `auto`: align the face to the model's training crop when one
            is found, else the centre square; an upload no larger than the model's input is taken as
            aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EncodeResponse | ErrorBody
     """


    return (await asyncio_detailed(
        client=client,
body=body,
align=align,
face=face,
model=model,

    )).parsed
