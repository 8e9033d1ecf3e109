from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.generated_sample_probabilities import GeneratedSampleProbabilities





T = TypeVar("T", bound="GeneratedSample")



@_attrs_define
class GeneratedSample:
    """ 
        Attributes:
            z (list[float]): The sampled latent vector.
            probabilities (GeneratedSampleProbabilities):
            image_png_base64 (str):
     """

    z: list[float]
    probabilities: GeneratedSampleProbabilities
    image_png_base64: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.generated_sample_probabilities import GeneratedSampleProbabilities # noqa: PLC0415
        z = self.z



        probabilities = self.probabilities.to_dict()

        image_png_base64 = self.image_png_base64


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "z": z,
            "probabilities": probabilities,
            "image_png_base64": image_png_base64,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.generated_sample_probabilities import GeneratedSampleProbabilities # noqa: PLC0415
        d = dict(src_dict)
        z = cast(list[float], d.pop("z"))


        probabilities = GeneratedSampleProbabilities.from_dict(d.pop("probabilities"))




        image_png_base64 = d.pop("image_png_base64")

        generated_sample = cls(
            z=z,
            probabilities=probabilities,
            image_png_base64=image_png_base64,
        )


        generated_sample.additional_properties = d
        return generated_sample

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
