from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.face_edit_info_deltas import FaceEditInfoDeltas
  from ..models.face_edit_info_probabilities_after import FaceEditInfoProbabilitiesAfter
  from ..models.face_edit_info_probabilities_before import FaceEditInfoProbabilitiesBefore





T = TypeVar("T", bound="FaceEditInfo")



@_attrs_define
class FaceEditInfo:
    """ 
        Attributes:
            index (int): Position of the face in POST /faces.
            deltas (FaceEditInfoDeltas): Delta applied to this face per attribute.
            probabilities_before (FaceEditInfoProbabilitiesBefore):
            probabilities_after (FaceEditInfoProbabilitiesAfter):
     """

    index: int
    deltas: FaceEditInfoDeltas
    probabilities_before: FaceEditInfoProbabilitiesBefore
    probabilities_after: FaceEditInfoProbabilitiesAfter
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.face_edit_info_deltas import FaceEditInfoDeltas # noqa: PLC0415
        from ..models.face_edit_info_probabilities_after import FaceEditInfoProbabilitiesAfter # noqa: PLC0415
        from ..models.face_edit_info_probabilities_before import FaceEditInfoProbabilitiesBefore # noqa: PLC0415
        index = self.index

        deltas = self.deltas.to_dict()

        probabilities_before = self.probabilities_before.to_dict()

        probabilities_after = self.probabilities_after.to_dict()


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "index": index,
            "deltas": deltas,
            "probabilities_before": probabilities_before,
            "probabilities_after": probabilities_after,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.face_edit_info_deltas import FaceEditInfoDeltas # noqa: PLC0415
        from ..models.face_edit_info_probabilities_after import FaceEditInfoProbabilitiesAfter # noqa: PLC0415
        from ..models.face_edit_info_probabilities_before import FaceEditInfoProbabilitiesBefore # noqa: PLC0415
        d = dict(src_dict)
        index = d.pop("index")

        deltas = FaceEditInfoDeltas.from_dict(d.pop("deltas"))




        probabilities_before = FaceEditInfoProbabilitiesBefore.from_dict(d.pop("probabilities_before"))




        probabilities_after = FaceEditInfoProbabilitiesAfter.from_dict(d.pop("probabilities_after"))




        face_edit_info = cls(
            index=index,
            deltas=deltas,
            probabilities_before=probabilities_before,
            probabilities_after=probabilities_after,
        )


        face_edit_info.additional_properties = d
        return face_edit_info

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
