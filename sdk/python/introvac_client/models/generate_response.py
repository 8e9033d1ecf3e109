from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast

if TYPE_CHECKING:
  from ..models.generated_sample import GeneratedSample





T = TypeVar("T", bound="GenerateResponse")



@_attrs_define
class GenerateResponse:
    """ 
        Attributes:
            model (str):
            method (str):
            prior (str): `fitted` (the model's fitted latent prior) or `standard` (N(0, I), the paper's).
            seed (int): Seed used; pass it back to get the same samples.
            requested (int):
            acceptance_rate (float): Accepted / proposed latents.
            samples (list[GeneratedSample]):
     """

    model: str
    method: str
    prior: str
    seed: int
    requested: int
    acceptance_rate: float
    samples: list[GeneratedSample]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.generated_sample import GeneratedSample # noqa: PLC0415
        model = self.model

        method = self.method

        prior = self.prior

        seed = self.seed

        requested = self.requested

        acceptance_rate = self.acceptance_rate

        samples = []
        for samples_item_data in self.samples:
            samples_item = samples_item_data.to_dict()
            samples.append(samples_item)




        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "model": model,
            "method": method,
            "prior": prior,
            "seed": seed,
            "requested": requested,
            "acceptance_rate": acceptance_rate,
            "samples": samples,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.generated_sample import GeneratedSample # noqa: PLC0415
        d = dict(src_dict)
        model = d.pop("model")

        method = d.pop("method")

        prior = d.pop("prior")

        seed = d.pop("seed")

        requested = d.pop("requested")

        acceptance_rate = d.pop("acceptance_rate")

        samples = []
        _samples = d.pop("samples")
        for samples_item_data in (_samples):
            samples_item = GeneratedSample.from_dict(samples_item_data)



            samples.append(samples_item)


        generate_response = cls(
            model=model,
            method=method,
            prior=prior,
            seed=seed,
            requested=requested,
            acceptance_rate=acceptance_rate,
            samples=samples,
        )


        generate_response.additional_properties = d
        return generate_response

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
