from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.edit_response_deltas import EditResponseDeltas
  from ..models.edit_response_probabilities_after import EditResponseProbabilitiesAfter
  from ..models.edit_response_probabilities_before import EditResponseProbabilitiesBefore
  from ..models.face_edit_info import FaceEditInfo
  from ..models.typicality_report import TypicalityReport





T = TypeVar("T", bound="EditResponse")



@_attrs_define
class EditResponse:
    """ 
        Attributes:
            model (str):
            image_base64 (str): The edited image, base64-encoded, in `media_type`.
            media_type (str): `image/png`, `image/jpeg` or `image/webp` (`image_format`).
            width (int):
            height (int):
            deltas (EditResponseDeltas): Delta applied per edited attribute (resolved when `auto`).
            probabilities_before (EditResponseProbabilitiesBefore): Classifier probabilities of the encoded image.
            probabilities_after (EditResponseProbabilitiesAfter): Classifier probabilities of the edited latent.
            image_png_base64 (None | str | Unset): The same as `image_base64` when the image is PNG (the default), else
                null. Use `image_base64`.
            typicality (None | TypicalityReport | Unset): Out-of-domain signal of the upload; null when the model has no
                calibration.
            alignment (str | Unset): `face` (aligned to the training crop) or `centre`. Default: 'centre'.
            alignment_reason (str | Unset): Why that alignment, e.g. `face 0` or `no face found (...)`. Default: ''.
            faces (list[FaceEditInfo] | Unset): Per edited face (`face=all` edits several); empty for the centre square.
     """

    model: str
    image_base64: str
    media_type: str
    width: int
    height: int
    deltas: EditResponseDeltas
    probabilities_before: EditResponseProbabilitiesBefore
    probabilities_after: EditResponseProbabilitiesAfter
    image_png_base64: None | str | Unset = UNSET
    typicality: None | TypicalityReport | Unset = UNSET
    alignment: str | Unset = 'centre'
    alignment_reason: str | Unset = ''
    faces: list[FaceEditInfo] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.edit_response_deltas import EditResponseDeltas # noqa: PLC0415
        from ..models.edit_response_probabilities_after import EditResponseProbabilitiesAfter # noqa: PLC0415
        from ..models.edit_response_probabilities_before import EditResponseProbabilitiesBefore # noqa: PLC0415
        from ..models.face_edit_info import FaceEditInfo # noqa: PLC0415
        from ..models.typicality_report import TypicalityReport # noqa: PLC0415
        model = self.model

        image_base64 = self.image_base64

        media_type = self.media_type

        width = self.width

        height = self.height

        deltas = self.deltas.to_dict()

        probabilities_before = self.probabilities_before.to_dict()

        probabilities_after = self.probabilities_after.to_dict()

        image_png_base64: None | str | Unset
        if isinstance(self.image_png_base64, Unset):
            image_png_base64 = UNSET
        else:
            image_png_base64 = self.image_png_base64

        typicality: dict[str, Any] | None | Unset
        if isinstance(self.typicality, Unset):
            typicality = UNSET
        elif isinstance(self.typicality, TypicalityReport):
            typicality = self.typicality.to_dict()
        else:
            typicality = self.typicality

        alignment = self.alignment

        alignment_reason = self.alignment_reason

        faces: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.faces, Unset):
            faces = []
            for faces_item_data in self.faces:
                faces_item = faces_item_data.to_dict()
                faces.append(faces_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "model": model,
            "image_base64": image_base64,
            "media_type": media_type,
            "width": width,
            "height": height,
            "deltas": deltas,
            "probabilities_before": probabilities_before,
            "probabilities_after": probabilities_after,
        })
        if image_png_base64 is not UNSET:
            field_dict["image_png_base64"] = image_png_base64
        if typicality is not UNSET:
            field_dict["typicality"] = typicality
        if alignment is not UNSET:
            field_dict["alignment"] = alignment
        if alignment_reason is not UNSET:
            field_dict["alignment_reason"] = alignment_reason
        if faces is not UNSET:
            field_dict["faces"] = faces

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.edit_response_deltas import EditResponseDeltas # noqa: PLC0415
        from ..models.edit_response_probabilities_after import EditResponseProbabilitiesAfter # noqa: PLC0415
        from ..models.edit_response_probabilities_before import EditResponseProbabilitiesBefore # noqa: PLC0415
        from ..models.face_edit_info import FaceEditInfo # noqa: PLC0415
        from ..models.typicality_report import TypicalityReport # noqa: PLC0415
        d = dict(src_dict)
        model = d.pop("model")

        image_base64 = d.pop("image_base64")

        media_type = d.pop("media_type")

        width = d.pop("width")

        height = d.pop("height")

        deltas = EditResponseDeltas.from_dict(d.pop("deltas"))




        probabilities_before = EditResponseProbabilitiesBefore.from_dict(d.pop("probabilities_before"))




        probabilities_after = EditResponseProbabilitiesAfter.from_dict(d.pop("probabilities_after"))




        def _parse_image_png_base64(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        image_png_base64 = _parse_image_png_base64(d.pop("image_png_base64", UNSET))


        def _parse_typicality(data: object) -> None | TypicalityReport | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                typicality_type_0 = TypicalityReport.from_dict(data)



                return typicality_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TypicalityReport | Unset, data)

        typicality = _parse_typicality(d.pop("typicality", UNSET))


        alignment = d.pop("alignment", UNSET)

        alignment_reason = d.pop("alignment_reason", UNSET)

        _faces = d.pop("faces", UNSET)
        faces: list[FaceEditInfo] | Unset = UNSET
        if _faces is not UNSET:
            faces = []
            for faces_item_data in _faces:
                faces_item = FaceEditInfo.from_dict(faces_item_data)



                faces.append(faces_item)


        edit_response = cls(
            model=model,
            image_base64=image_base64,
            media_type=media_type,
            width=width,
            height=height,
            deltas=deltas,
            probabilities_before=probabilities_before,
            probabilities_after=probabilities_after,
            image_png_base64=image_png_base64,
            typicality=typicality,
            alignment=alignment,
            alignment_reason=alignment_reason,
            faces=faces,
        )


        edit_response.additional_properties = d
        return edit_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
