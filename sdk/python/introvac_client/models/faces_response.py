from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.detected_face import DetectedFace





T = TypeVar("T", bound="FacesResponse")



@_attrs_define
class FacesResponse:
    """ 
        Attributes:
            width (int): Upload width after EXIF orientation.
            height (int):
            faces (list[DetectedFace]): Largest first, at most `max_faces`.
            total_found (int): Faces found before the cap.
            max_faces (int): The cap on faces per photo (INTROVAC_FACE_MAX_FACES).
            min_face_px (int): Narrowest face box that is aligned (INTROVAC_FACE_MIN_PX).
            smallest_detectable_px (int): Faces narrower than this are not found at this photo size.
     """

    width: int
    height: int
    faces: list[DetectedFace]
    total_found: int
    max_faces: int
    min_face_px: int
    smallest_detectable_px: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.detected_face import DetectedFace # noqa: PLC0415
        width = self.width

        height = self.height

        faces = []
        for faces_item_data in self.faces:
            faces_item = faces_item_data.to_dict()
            faces.append(faces_item)



        total_found = self.total_found

        max_faces = self.max_faces

        min_face_px = self.min_face_px

        smallest_detectable_px = self.smallest_detectable_px


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "width": width,
            "height": height,
            "faces": faces,
            "total_found": total_found,
            "max_faces": max_faces,
            "min_face_px": min_face_px,
            "smallest_detectable_px": smallest_detectable_px,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.detected_face import DetectedFace # noqa: PLC0415
        d = dict(src_dict)
        width = d.pop("width")

        height = d.pop("height")

        faces = []
        _faces = d.pop("faces")
        for faces_item_data in (_faces):
            faces_item = DetectedFace.from_dict(faces_item_data)



            faces.append(faces_item)


        total_found = d.pop("total_found")

        max_faces = d.pop("max_faces")

        min_face_px = d.pop("min_face_px")

        smallest_detectable_px = d.pop("smallest_detectable_px")

        faces_response = cls(
            width=width,
            height=height,
            faces=faces,
            total_found=total_found,
            max_faces=max_faces,
            min_face_px=min_face_px,
            smallest_detectable_px=smallest_detectable_px,
        )


        faces_response.additional_properties = d
        return faces_response

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
