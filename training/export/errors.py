"""The one error type of the export stage, raised by the writer, the parity checks and the prior fit."""


class ExportError(RuntimeError):
    """The model or checkpoint cannot be exported (bad input or a failed check)."""
