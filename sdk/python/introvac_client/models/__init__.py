""" Contains all the data models used in inputs/outputs """

from .attribute_info import AttributeInfo
from .decode_request import DecodeRequest
from .edit_detail import EditDetail
from .edit_latent_request import EditLatentRequest
from .edit_response import EditResponse
from .edit_response_deltas import EditResponseDeltas
from .edit_response_probabilities_after import EditResponseProbabilitiesAfter
from .edit_response_probabilities_before import EditResponseProbabilitiesBefore
from .encode_response import EncodeResponse
from .encode_response_attributes import EncodeResponseAttributes
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .generate_response import GenerateResponse
from .generated_sample import GeneratedSample
from .generated_sample_probabilities import GeneratedSampleProbabilities
from .health_response import HealthResponse
from .image_upload import ImageUpload
from .latent_prior import LatentPrior
from .latent_prior_origin import LatentPriorOrigin
from .model_info import ModelInfo
from .model_info_evaluation import ModelInfoEvaluation
from .model_info_export import ModelInfoExport
from .model_info_provenance import ModelInfoProvenance
from .model_list import ModelList
from .model_status import ModelStatus
from .ready_response import ReadyResponse
from .sampling_method import SamplingMethod
from .typicality_report import TypicalityReport

__all__ = (
    "AttributeInfo",
    "DecodeRequest",
    "EditDetail",
    "EditLatentRequest",
    "EditResponse",
    "EditResponseDeltas",
    "EditResponseProbabilitiesAfter",
    "EditResponseProbabilitiesBefore",
    "EncodeResponse",
    "EncodeResponseAttributes",
    "ErrorBody",
    "ErrorDetail",
    "GeneratedSample",
    "GeneratedSampleProbabilities",
    "GenerateResponse",
    "HealthResponse",
    "ImageUpload",
    "LatentPrior",
    "LatentPriorOrigin",
    "ModelInfo",
    "ModelInfoEvaluation",
    "ModelInfoExport",
    "ModelInfoProvenance",
    "ModelList",
    "ModelStatus",
    "ReadyResponse",
    "SamplingMethod",
    "TypicalityReport",
)
