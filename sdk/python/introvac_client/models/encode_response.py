from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.encode_response_attributes import EncodeResponseAttributes
  from ..models.typicality_report import TypicalityReport





T = TypeVar("T", bound="EncodeResponse")



@_attrs_define
class EncodeResponse:
    """ 
        Attributes:
            model (str): Model that served the request.
            mean (list[float]): Encoder mean mu(x): the latent code used for edits.
            logvar (list[float]): Encoder log-variance.
            attributes (EncodeResponseAttributes): Classifier probability of each attribute.
            realness (float): 1 - sigmoid(fake logit): how real the encoder judges the image.
            typicality (None | TypicalityReport | Unset): Out-of-domain signal; null when the model has no typicality
                calibration.
            alignment (str | Unset): `face` (aligned to the training crop) or `centre`. Default: 'centre'.
            alignment_reason (str | Unset): Why that alignment, e.g. `face 0` or `no face found (...)`. Default: ''.
     """

    model: str
    mean: list[float]
    logvar: list[float]
    attributes: EncodeResponseAttributes
    realness: float
    typicality: None | TypicalityReport | Unset = UNSET
    alignment: str | Unset = 'centre'
    alignment_reason: str | Unset = ''
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.encode_response_attributes import EncodeResponseAttributes # noqa: PLC0415
        from ..models.typicality_report import TypicalityReport # noqa: PLC0415
        model = self.model

        mean = self.mean



        logvar = self.logvar



        attributes = self.attributes.to_dict()

        realness = self.realness

        typicality: dict[str, Any] | None | Unset
        if isinstance(self.typicality, Unset):
            typicality = UNSET
        elif isinstance(self.typicality, TypicalityReport):
            typicality = self.typicality.to_dict()
        else:
            typicality = self.typicality

        alignment = self.alignment

        alignment_reason = self.alignment_reason


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "model": model,
            "mean": mean,
            "logvar": logvar,
            "attributes": attributes,
            "realness": realness,
        })
        if typicality is not UNSET:
            field_dict["typicality"] = typicality
        if alignment is not UNSET:
            field_dict["alignment"] = alignment
        if alignment_reason is not UNSET:
            field_dict["alignment_reason"] = alignment_reason

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.encode_response_attributes import EncodeResponseAttributes # noqa: PLC0415
        from ..models.typicality_report import TypicalityReport # noqa: PLC0415
        d = dict(src_dict)
        model = d.pop("model")

        mean = cast(list[float], d.pop("mean"))


        logvar = cast(list[float], d.pop("logvar"))


        attributes = EncodeResponseAttributes.from_dict(d.pop("attributes"))




        realness = d.pop("realness")

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

        encode_response = cls(
            model=model,
            mean=mean,
            logvar=logvar,
            attributes=attributes,
            realness=realness,
            typicality=typicality,
            alignment=alignment,
            alignment_reason=alignment_reason,
        )


        encode_response.additional_properties = d
        return encode_response

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
