from http import HTTPStatus
from typing import Any, cast
from urllib.parse import quote

import httpx

from ...client import AuthenticatedClient, Client
from ...types import Response, UNSET
from ... import errors

from ...models.edit_detail import check_edit_detail
from ...models.edit_detail import EditDetail
from ...models.edit_image_format import check_edit_image_format
from ...models.edit_image_format import EditImageFormat
from ...models.edit_json_align import check_edit_json_align
from ...models.edit_json_align import EditJsonAlign
from ...models.edit_response import EditResponse
from ...models.error_body import ErrorBody
from ...models.image_upload import ImageUpload
from ...types import UNSET, Unset
from typing import cast
from typing import Literal, cast



def _get_kwargs(
    *,
    body: ImageUpload,
    attribute: list[str],
    delta: list[float | Literal['auto']] | Unset = UNSET,
    target: float | Unset = 0.95,
    preserve: list[str] | Unset = UNSET,
    detail: EditDetail | Unset = UNSET,
    image_format: EditImageFormat | Unset = UNSET,
    quality: int | Unset = 90,
    model: str | Unset = UNSET,
    align: EditJsonAlign | Unset = 'auto',
    face: str | Unset = 'largest',

) -> dict[str, Any]:
    headers: dict[str, Any] = {}


    

    params: dict[str, Any] = {}

    json_attribute = attribute


    params["attribute"] = json_attribute

    json_delta: list[float | Literal['auto']] | Unset = UNSET
    if not isinstance(delta, Unset):
        json_delta = []
        for delta_item_data in delta:
            delta_item: float | Literal['auto']
            delta_item = delta_item_data
            json_delta.append(delta_item)


    params["delta"] = json_delta

    params["target"] = target

    json_preserve: list[str] | Unset = UNSET
    if not isinstance(preserve, Unset):
        json_preserve = preserve


    params["preserve"] = json_preserve

    json_detail: str | Unset = UNSET
    if not isinstance(detail, Unset):
        json_detail = detail

    params["detail"] = json_detail

    json_image_format: str | Unset = UNSET
    if not isinstance(image_format, Unset):
        json_image_format = image_format

    params["image_format"] = json_image_format

    params["quality"] = quality

    params["model"] = model

    json_align: str | Unset = UNSET
    if not isinstance(align, Unset):
        json_align = align

    params["align"] = json_align

    params["face"] = face


    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}


    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/edit/json",
        "params": params,
    }

    _kwargs["files"] = body.to_multipart()

    headers["Content-Type"] = "multipart/form-data; boundary=+++"

    _kwargs["headers"] = headers
    return _kwargs



def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> EditResponse | ErrorBody | None:
    if response.status_code == 200:
        response_200 = EditResponse.from_dict(response.json())



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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[EditResponse | ErrorBody]:
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
    attribute: list[str],
    delta: list[float | Literal['auto']] | Unset = UNSET,
    target: float | Unset = 0.95,
    preserve: list[str] | Unset = UNSET,
    detail: EditDetail | Unset = UNSET,
    image_format: EditImageFormat | Unset = UNSET,
    quality: int | Unset = 90,
    model: str | Unset = UNSET,
    align: EditJsonAlign | Unset = 'auto',
    face: str | Unset = 'largest',

) -> Response[EditResponse | ErrorBody]:
    """ Edit attributes of an image (JSON answer)

     What ``POST /edit`` does, answered as JSON: the image (base64), deltas used and probabilities.

    Args:
        attribute (list[str]): Attribute to edit; repeat for several.
        delta (list[float | Literal['auto']] | Unset): Per attribute (same order) or one for all:
            a number (> 0 adds, < 0 removes; |delta| <= 100) or `auto` (exact closed-form delta
            reaching `target`). Default: the model's recommended delta.
        target (float | Unset): Probability that `delta=auto` reaches (e.g. 0.05 removes).
            Default: 0.95.
        preserve (list[str] | Unset): Attributes whose classifier logits must not change.
        detail (EditDetail | Unset): `full`: the model's output. `residual`: the upload at its
            resolution plus only the change.
        image_format (EditImageFormat | Unset): Encoding of the returned image: `png` (lossless),
            `jpeg` or `webp` (lossy, at `quality`).
        quality (int | Unset): JPEG/WebP quality, 1-100 (ignored for PNG, which is lossless).
            Default: 90.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        align (EditJsonAlign | Unset): `auto`: align the face to the model's training crop when
            one is found, else the centre square; an upload no larger than the model's input is taken
            as aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EditResponse | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
attribute=attribute,
delta=delta,
target=target,
preserve=preserve,
detail=detail,
image_format=image_format,
quality=quality,
model=model,
align=align,
face=face,

    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)

def sync(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    attribute: list[str],
    delta: list[float | Literal['auto']] | Unset = UNSET,
    target: float | Unset = 0.95,
    preserve: list[str] | Unset = UNSET,
    detail: EditDetail | Unset = UNSET,
    image_format: EditImageFormat | Unset = UNSET,
    quality: int | Unset = 90,
    model: str | Unset = UNSET,
    align: EditJsonAlign | Unset = 'auto',
    face: str | Unset = 'largest',

) -> EditResponse | ErrorBody | None:
    """ Edit attributes of an image (JSON answer)

     What ``POST /edit`` does, answered as JSON: the image (base64), deltas used and probabilities.

    Args:
        attribute (list[str]): Attribute to edit; repeat for several.
        delta (list[float | Literal['auto']] | Unset): Per attribute (same order) or one for all:
            a number (> 0 adds, < 0 removes; |delta| <= 100) or `auto` (exact closed-form delta
            reaching `target`). Default: the model's recommended delta.
        target (float | Unset): Probability that `delta=auto` reaches (e.g. 0.05 removes).
            Default: 0.95.
        preserve (list[str] | Unset): Attributes whose classifier logits must not change.
        detail (EditDetail | Unset): `full`: the model's output. `residual`: the upload at its
            resolution plus only the change.
        image_format (EditImageFormat | Unset): Encoding of the returned image: `png` (lossless),
            `jpeg` or `webp` (lossy, at `quality`).
        quality (int | Unset): JPEG/WebP quality, 1-100 (ignored for PNG, which is lossless).
            Default: 90.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        align (EditJsonAlign | Unset): `auto`: align the face to the model's training crop when
            one is found, else the centre square; an upload no larger than the model's input is taken
            as aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EditResponse | ErrorBody
     """


    return sync_detailed(
        client=client,
body=body,
attribute=attribute,
delta=delta,
target=target,
preserve=preserve,
detail=detail,
image_format=image_format,
quality=quality,
model=model,
align=align,
face=face,

    ).parsed

async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    attribute: list[str],
    delta: list[float | Literal['auto']] | Unset = UNSET,
    target: float | Unset = 0.95,
    preserve: list[str] | Unset = UNSET,
    detail: EditDetail | Unset = UNSET,
    image_format: EditImageFormat | Unset = UNSET,
    quality: int | Unset = 90,
    model: str | Unset = UNSET,
    align: EditJsonAlign | Unset = 'auto',
    face: str | Unset = 'largest',

) -> Response[EditResponse | ErrorBody]:
    """ Edit attributes of an image (JSON answer)

     What ``POST /edit`` does, answered as JSON: the image (base64), deltas used and probabilities.

    Args:
        attribute (list[str]): Attribute to edit; repeat for several.
        delta (list[float | Literal['auto']] | Unset): Per attribute (same order) or one for all:
            a number (> 0 adds, < 0 removes; |delta| <= 100) or `auto` (exact closed-form delta
            reaching `target`). Default: the model's recommended delta.
        target (float | Unset): Probability that `delta=auto` reaches (e.g. 0.05 removes).
            Default: 0.95.
        preserve (list[str] | Unset): Attributes whose classifier logits must not change.
        detail (EditDetail | Unset): `full`: the model's output. `residual`: the upload at its
            resolution plus only the change.
        image_format (EditImageFormat | Unset): Encoding of the returned image: `png` (lossless),
            `jpeg` or `webp` (lossy, at `quality`).
        quality (int | Unset): JPEG/WebP quality, 1-100 (ignored for PNG, which is lossless).
            Default: 90.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        align (EditJsonAlign | Unset): `auto`: align the face to the model's training crop when
            one is found, else the centre square; an upload no larger than the model's input is taken
            as aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[EditResponse | ErrorBody]
     """


    kwargs = _get_kwargs(
        body=body,
attribute=attribute,
delta=delta,
target=target,
preserve=preserve,
detail=detail,
image_format=image_format,
quality=quality,
model=model,
align=align,
face=face,

    )

    response = await client.get_async_httpx_client().request(
        **kwargs
    )

    return _build_response(client=client, response=response)

async def asyncio(
    *,
    client: AuthenticatedClient,
    body: ImageUpload,
    attribute: list[str],
    delta: list[float | Literal['auto']] | Unset = UNSET,
    target: float | Unset = 0.95,
    preserve: list[str] | Unset = UNSET,
    detail: EditDetail | Unset = UNSET,
    image_format: EditImageFormat | Unset = UNSET,
    quality: int | Unset = 90,
    model: str | Unset = UNSET,
    align: EditJsonAlign | Unset = 'auto',
    face: str | Unset = 'largest',

) -> EditResponse | ErrorBody | None:
    """ Edit attributes of an image (JSON answer)

     What ``POST /edit`` does, answered as JSON: the image (base64), deltas used and probabilities.

    Args:
        attribute (list[str]): Attribute to edit; repeat for several.
        delta (list[float | Literal['auto']] | Unset): Per attribute (same order) or one for all:
            a number (> 0 adds, < 0 removes; |delta| <= 100) or `auto` (exact closed-form delta
            reaching `target`). Default: the model's recommended delta.
        target (float | Unset): Probability that `delta=auto` reaches (e.g. 0.05 removes).
            Default: 0.95.
        preserve (list[str] | Unset): Attributes whose classifier logits must not change.
        detail (EditDetail | Unset): `full`: the model's output. `residual`: the upload at its
            resolution plus only the change.
        image_format (EditImageFormat | Unset): Encoding of the returned image: `png` (lossless),
            `jpeg` or `webp` (lossy, at `quality`).
        quality (int | Unset): JPEG/WebP quality, 1-100 (ignored for PNG, which is lossless).
            Default: 90.
        model (str | Unset): Model to use (see GET /models); default: the service's default model.
        align (EditJsonAlign | Unset): `auto`: align the face to the model's training crop when
            one is found, else the centre square; an upload no larger than the model's input is taken
            as aligned already. `face`: the face or a 422 (`no_face_found`, `face_too_small`,
            `no_alignment_template`). `centre`: the largest centred square. The choice is reported in
            `X-Alignment`. Default: 'auto'.
        face (str | Unset): `largest`, `all` (every face, batched; not for /encode) or an index
            from POST /faces. Default: 'largest'.
        body (ImageUpload):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        EditResponse | ErrorBody
     """


    return (await asyncio_detailed(
        client=client,
body=body,
attribute=attribute,
delta=delta,
target=target,
preserve=preserve,
detail=detail,
image_format=image_format,
quality=quality,
model=model,
align=align,
face=face,

    )).parsed
