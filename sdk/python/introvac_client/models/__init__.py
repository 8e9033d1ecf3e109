""" Contains all the data models used in inputs/outputs """

from .attribute_info import AttributeInfo
from .decode_request import DecodeRequest
from .detected_face import DetectedFace
from .edit_align import EditAlign
from .edit_detail import EditDetail
from .edit_image_format import EditImageFormat
from .edit_json_align import EditJsonAlign
from .edit_latent_request import EditLatentRequest
from .edit_response import EditResponse
from .edit_response_deltas import EditResponseDeltas
from .edit_response_probabilities_after import EditResponseProbabilitiesAfter
from .edit_response_probabilities_before import EditResponseProbabilitiesBefore
from .encode_align import EncodeAlign
from .encode_response import EncodeResponse
from .encode_response_attributes import EncodeResponseAttributes
from .error_body import ErrorBody
from .error_detail import ErrorDetail
from .face_box import FaceBox
from .face_edit_info import FaceEditInfo
from .face_edit_info_deltas import FaceEditInfoDeltas
from .face_edit_info_probabilities_after import FaceEditInfoProbabilitiesAfter
from .face_edit_info_probabilities_before import FaceEditInfoProbabilitiesBefore
from .faces_response import FacesResponse
from .generate_response import GenerateResponse
from .generated_sample import GeneratedSample
from .generated_sample_probabilities import GeneratedSampleProbabilities
from .health_response import HealthResponse
from .image_upload import ImageUpload
from .landmark import Landmark
from .latent_prior import LatentPrior
from .latent_prior_origin import LatentPriorOrigin
from .model_info import ModelInfo
from .model_info_alignment_type_0 import ModelInfoAlignmentType0
from .model_info_evaluation import ModelInfoEvaluation
from .model_info_export import ModelInfoExport
from .model_info_provenance import ModelInfoProvenance
from .model_list import ModelList
from .model_status import ModelStatus
from .ready_response import ReadyResponse
from .reconstruct_align import ReconstructAlign
from .sampling_method import SamplingMethod
from .typicality_report import TypicalityReport

__all__ = (
    "AttributeInfo",
    "DecodeRequest",
    "DetectedFace",
    "EditAlign",
    "EditDetail",
    "EditImageFormat",
    "EditJsonAlign",
    "EditLatentRequest",
    "EditResponse",
    "EditResponseDeltas",
    "EditResponseProbabilitiesAfter",
    "EditResponseProbabilitiesBefore",
    "EncodeAlign",
    "EncodeResponse",
    "EncodeResponseAttributes",
    "ErrorBody",
    "ErrorDetail",
    "FaceBox",
    "FaceEditInfo",
    "FaceEditInfoDeltas",
    "FaceEditInfoProbabilitiesAfter",
    "FaceEditInfoProbabilitiesBefore",
    "FacesResponse",
    "GeneratedSample",
    "GeneratedSampleProbabilities",
    "GenerateResponse",
    "HealthResponse",
    "ImageUpload",
    "Landmark",
    "LatentPrior",
    "LatentPriorOrigin",
    "ModelInfo",
    "ModelInfoAlignmentType0",
    "ModelInfoEvaluation",
    "ModelInfoExport",
    "ModelInfoProvenance",
    "ModelList",
    "ModelStatus",
    "ReadyResponse",
    "ReconstructAlign",
    "SamplingMethod",
    "TypicalityReport",
)
