from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.attribute_info import AttributeInfo
  from ..models.latent_prior_origin import LatentPriorOrigin
  from ..models.model_info_alignment_type_0 import ModelInfoAlignmentType0
  from ..models.model_info_evaluation import ModelInfoEvaluation
  from ..models.model_info_export import ModelInfoExport
  from ..models.model_info_provenance import ModelInfoProvenance





T = TypeVar("T", bound="ModelInfo")



@_attrs_define
class ModelInfo:
    """ 
        Attributes:
            name (str):
            default (bool): Used when a request has no `model=` parameter.
            image_size (int):
            value_range (list[float]): Pixel range of the model's images.
            latent_dim (int):
            attributes (list[AttributeInfo]):
            backend (str): `onnx` or `torchscript`.
            device (str): Execution provider or torch device in use.
            provenance (ModelInfoProvenance): Training mode, dataset, epochs, steps, git commit.
            export (ModelInfoExport): ONNX opset and the export parity error.
            evaluation (ModelInfoEvaluation): Evaluation figures recorded at export.
            latent_prior (LatentPriorOrigin | None | Unset): Origin of the fitted latent prior /generate uses by default;
                null: N(0, I) only.
            alignment (ModelInfoAlignmentType0 | None | Unset): Where faces are placed in the model input (eye centres as
                fractions of the side) and how the training data was aligned; null: no template, photos are centre-cropped.
     """

    name: str
    default: bool
    image_size: int
    value_range: list[float]
    latent_dim: int
    attributes: list[AttributeInfo]
    backend: str
    device: str
    provenance: ModelInfoProvenance
    export: ModelInfoExport
    evaluation: ModelInfoEvaluation
    latent_prior: LatentPriorOrigin | None | Unset = UNSET
    alignment: ModelInfoAlignmentType0 | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.attribute_info import AttributeInfo # noqa: PLC0415
        from ..models.latent_prior_origin import LatentPriorOrigin # noqa: PLC0415
        from ..models.model_info_alignment_type_0 import ModelInfoAlignmentType0 # noqa: PLC0415
        from ..models.model_info_evaluation import ModelInfoEvaluation # noqa: PLC0415
        from ..models.model_info_export import ModelInfoExport # noqa: PLC0415
        from ..models.model_info_provenance import ModelInfoProvenance # noqa: PLC0415
        name = self.name

        default = self.default

        image_size = self.image_size

        value_range = self.value_range



        latent_dim = self.latent_dim

        attributes = []
        for attributes_item_data in self.attributes:
            attributes_item = attributes_item_data.to_dict()
            attributes.append(attributes_item)



        backend = self.backend

        device = self.device

        provenance = self.provenance.to_dict()

        export = self.export.to_dict()

        evaluation = self.evaluation.to_dict()

        latent_prior: dict[str, Any] | None | Unset
        if isinstance(self.latent_prior, Unset):
            latent_prior = UNSET
        elif isinstance(self.latent_prior, LatentPriorOrigin):
            latent_prior = self.latent_prior.to_dict()
        else:
            latent_prior = self.latent_prior

        alignment: dict[str, Any] | None | Unset
        if isinstance(self.alignment, Unset):
            alignment = UNSET
        elif isinstance(self.alignment, ModelInfoAlignmentType0):
            alignment = self.alignment.to_dict()
        else:
            alignment = self.alignment


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "name": name,
            "default": default,
            "image_size": image_size,
            "value_range": value_range,
            "latent_dim": latent_dim,
            "attributes": attributes,
            "backend": backend,
            "device": device,
            "provenance": provenance,
            "export": export,
            "evaluation": evaluation,
        })
        if latent_prior is not UNSET:
            field_dict["latent_prior"] = latent_prior
        if alignment is not UNSET:
            field_dict["alignment"] = alignment

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.attribute_info import AttributeInfo # noqa: PLC0415
        from ..models.latent_prior_origin import LatentPriorOrigin # noqa: PLC0415
        from ..models.model_info_alignment_type_0 import ModelInfoAlignmentType0 # noqa: PLC0415
        from ..models.model_info_evaluation import ModelInfoEvaluation # noqa: PLC0415
        from ..models.model_info_export import ModelInfoExport # noqa: PLC0415
        from ..models.model_info_provenance import ModelInfoProvenance # noqa: PLC0415
        d = dict(src_dict)
        name = d.pop("name")

        default = d.pop("default")

        image_size = d.pop("image_size")

        value_range = cast(list[float], d.pop("value_range"))


        latent_dim = d.pop("latent_dim")

        attributes = []
        _attributes = d.pop("attributes")
        for attributes_item_data in (_attributes):
            attributes_item = AttributeInfo.from_dict(attributes_item_data)



            attributes.append(attributes_item)


        backend = d.pop("backend")

        device = d.pop("device")

        provenance = ModelInfoProvenance.from_dict(d.pop("provenance"))




        export = ModelInfoExport.from_dict(d.pop("export"))




        evaluation = ModelInfoEvaluation.from_dict(d.pop("evaluation"))




        def _parse_latent_prior(data: object) -> LatentPriorOrigin | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                latent_prior_type_0 = LatentPriorOrigin.from_dict(data)



                return latent_prior_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(LatentPriorOrigin | None | Unset, data)

        latent_prior = _parse_latent_prior(d.pop("latent_prior", UNSET))


        def _parse_alignment(data: object) -> ModelInfoAlignmentType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                alignment_type_0 = ModelInfoAlignmentType0.from_dict(data)



                return alignment_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelInfoAlignmentType0 | None | Unset, data)

        alignment = _parse_alignment(d.pop("alignment", UNSET))


        model_info = cls(
            name=name,
            default=default,
            image_size=image_size,
            value_range=value_range,
            latent_dim=latent_dim,
            attributes=attributes,
            backend=backend,
            device=device,
            provenance=provenance,
            export=export,
            evaluation=evaluation,
            latent_prior=latent_prior,
            alignment=alignment,
        )


        model_info.additional_properties = d
        return model_info

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
