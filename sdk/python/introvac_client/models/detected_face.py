from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.face_box import FaceBox
  from ..models.landmark import Landmark





T = TypeVar("T", bound="DetectedFace")



@_attrs_define
class DetectedFace:
    """ 
        Attributes:
            index (int): Pass as `face=<index>` to /edit, /encode, /reconstruct.
            box (FaceBox):
            landmarks (list[Landmark]): dlib's 5 points; left/right as seen in the image.
            left_eye (list[float]): Centre [x, y] of the eye on the image's left.
            right_eye (list[float]): Centre [x, y] of the eye on the image's right.
            score (float): Detector confidence (HOG; higher is surer).
            too_small (bool): Narrower than `min_face_px`: found but not aligned.
            cut_by_border (bool): The box reaches past the photo's edge (edges are repeated to fill).
     """

    index: int
    box: FaceBox
    landmarks: list[Landmark]
    left_eye: list[float]
    right_eye: list[float]
    score: float
    too_small: bool
    cut_by_border: bool
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.face_box import FaceBox # noqa: PLC0415
        from ..models.landmark import Landmark # noqa: PLC0415
        index = self.index

        box = self.box.to_dict()

        landmarks = []
        for landmarks_item_data in self.landmarks:
            landmarks_item = landmarks_item_data.to_dict()
            landmarks.append(landmarks_item)



        left_eye = self.left_eye



        right_eye = self.right_eye



        score = self.score

        too_small = self.too_small

        cut_by_border = self.cut_by_border


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "index": index,
            "box": box,
            "landmarks": landmarks,
            "left_eye": left_eye,
            "right_eye": right_eye,
            "score": score,
            "too_small": too_small,
            "cut_by_border": cut_by_border,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.face_box import FaceBox # noqa: PLC0415
        from ..models.landmark import Landmark # noqa: PLC0415
        d = dict(src_dict)
        index = d.pop("index")

        box = FaceBox.from_dict(d.pop("box"))




        landmarks = []
        _landmarks = d.pop("landmarks")
        for landmarks_item_data in (_landmarks):
            landmarks_item = Landmark.from_dict(landmarks_item_data)



            landmarks.append(landmarks_item)


        left_eye = cast(list[float], d.pop("left_eye"))


        right_eye = cast(list[float], d.pop("right_eye"))


        score = d.pop("score")

        too_small = d.pop("too_small")

        cut_by_border = d.pop("cut_by_border")

        detected_face = cls(
            index=index,
            box=box,
            landmarks=landmarks,
            left_eye=left_eye,
            right_eye=right_eye,
            score=score,
            too_small=too_small,
            cut_by_border=cut_by_border,
        )


        detected_face.additional_properties = d
        return detected_face

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
