"""Export stage: checkpoint -> models/<name>/ (ONNX, TorchScript, fitted prior, manifest last).

``from_checkpoint`` rebuilds the model of a checkpoint, ``writer`` writes and checks the
files, ``parity`` runs them against torch, ``prior`` fits the latent prior through the
served encoder.
"""

from training.export.errors import ExportError
from training.export.from_checkpoint import export_checkpoint, load_checkpoint_model
from training.export.writer import export_model

__all__ = ["ExportError", "export_checkpoint", "export_model", "load_checkpoint_model"]
