from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="DecodeRequest")



@_attrs_define
class DecodeRequest:
    """ One latent vector, or a list of them (decoded to a grid).

        Attributes:
            z (list[float] | list[list[float]]): A latent vector of the model's latent size, or a non-empty list of them.
     """

    z: list[float] | list[list[float]]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        z: list[float] | list[list[float]]
        if isinstance(self.z, list):
            z = self.z


        else:
            z = []
            for z_type_1_item_data in self.z:
                z_type_1_item = z_type_1_item_data


                z.append(z_type_1_item)





        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "z": z,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_z(data: object) -> list[float] | list[list[float]]:
            try:
                if not isinstance(data, list):
                    raise TypeError()
                z_type_0 = cast(list[float], data)

                return z_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, list):
                raise TypeError()
            z_type_1 = []
            _z_type_1 = data
            for z_type_1_item_data in (_z_type_1):
                z_type_1_item = cast(list[float], z_type_1_item_data)

                z_type_1.append(z_type_1_item)

            return z_type_1

        z = _parse_z(d.pop("z"))


        decode_request = cls(
            z=z,
        )


        decode_request.additional_properties = d
        return decode_request

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
