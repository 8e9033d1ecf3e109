from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast
from typing import Literal, cast






T = TypeVar("T", bound="EditLatentRequest")



@_attrs_define
class EditLatentRequest:
    """ An encoded latent (e.g. /encode's `mean`) and the edit to apply to it.

        Attributes:
            z (list[float]): One latent vector of the model's latent size.
            attribute (list[str]): Attributes to edit.
            delta (list[float | Literal['auto']] | Unset): Per attribute (same order) or one for all: a number (> 0 adds, <
                0 removes; |delta| <= 100) or `auto` (exact closed-form delta reaching `target`). Empty: the model's recommended
                deltas.
            preserve (list[str] | Unset): Attributes whose logits must not change.
            target (float | Unset): Probability that `auto` reaches. Default: 0.95.
     """

    z: list[float]
    attribute: list[str]
    delta: list[float | Literal['auto']] | Unset = UNSET
    preserve: list[str] | Unset = UNSET
    target: float | Unset = 0.95





    def to_dict(self) -> dict[str, Any]:
        z = self.z



        attribute = self.attribute



        delta: list[float | Literal['auto']] | Unset = UNSET
        if not isinstance(self.delta, Unset):
            delta = []
            for delta_item_data in self.delta:
                delta_item: float | Literal['auto']
                delta_item = delta_item_data
                delta.append(delta_item)



        preserve: list[str] | Unset = UNSET
        if not isinstance(self.preserve, Unset):
            preserve = self.preserve



        target = self.target


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "z": z,
            "attribute": attribute,
        })
        if delta is not UNSET:
            field_dict["delta"] = delta
        if preserve is not UNSET:
            field_dict["preserve"] = preserve
        if target is not UNSET:
            field_dict["target"] = target

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        z = cast(list[float], d.pop("z"))


        attribute = cast(list[str], d.pop("attribute"))


        _delta = d.pop("delta", UNSET)
        delta: list[float | Literal['auto']] | Unset = UNSET
        if _delta is not UNSET:
            delta = []
            for delta_item_data in _delta:
                def _parse_delta_item(data: object) -> float | Literal['auto']:
                    delta_item_type_1 = cast(Literal['auto'] , data)
                    if delta_item_type_1 != 'auto':
                        raise ValueError(f"delta_item_type_1 must match const 'auto', got '{delta_item_type_1}'")
                    return delta_item_type_1
                    return cast(float | Literal['auto'], data)

                delta_item = _parse_delta_item(delta_item_data)

                delta.append(delta_item)


        preserve = cast(list[str], d.pop("preserve", UNSET))


        target = d.pop("target", UNSET)

        edit_latent_request = cls(
            z=z,
            attribute=attribute,
            delta=delta,
            preserve=preserve,
            target=target,
        )

        return edit_latent_request

