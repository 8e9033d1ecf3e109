from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="TypicalityReport")



@_attrs_define
class TypicalityReport:
    """ How typical the image is for the model: percentiles among held-out training-distribution images.

        Attributes:
            in_distribution (bool): False: the image is unlike what the model was trained on.
            percentile (float): min(density_percentile, 100 - error_percentile); low = atypical.
            threshold_percentile (float): in_distribution is percentile >= this (model manifest).
            log_density (float): Log-density of the encoder mean under the model's latent prior.
            density_percentile (float): % of held-out training images with a lower density.
            reconstruction_error (float): Mean absolute reconstruction error, in the value range.
            error_percentile (float): % of held-out training images with a lower error.
     """

    in_distribution: bool
    percentile: float
    threshold_percentile: float
    log_density: float
    density_percentile: float
    reconstruction_error: float
    error_percentile: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        in_distribution = self.in_distribution

        percentile = self.percentile

        threshold_percentile = self.threshold_percentile

        log_density = self.log_density

        density_percentile = self.density_percentile

        reconstruction_error = self.reconstruction_error

        error_percentile = self.error_percentile


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "in_distribution": in_distribution,
            "percentile": percentile,
            "threshold_percentile": threshold_percentile,
            "log_density": log_density,
            "density_percentile": density_percentile,
            "reconstruction_error": reconstruction_error,
            "error_percentile": error_percentile,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        in_distribution = d.pop("in_distribution")

        percentile = d.pop("percentile")

        threshold_percentile = d.pop("threshold_percentile")

        log_density = d.pop("log_density")

        density_percentile = d.pop("density_percentile")

        reconstruction_error = d.pop("reconstruction_error")

        error_percentile = d.pop("error_percentile")

        typicality_report = cls(
            in_distribution=in_distribution,
            percentile=percentile,
            threshold_percentile=threshold_percentile,
            log_density=log_density,
            density_percentile=density_percentile,
            reconstruction_error=reconstruction_error,
            error_percentile=error_percentile,
        )


        typicality_report.additional_properties = d
        return typicality_report

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
