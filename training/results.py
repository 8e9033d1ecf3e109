"""What a training run hands back (:class:`TrainResult`) and how it stops when it fails
(:class:`TrainingDivergedError`). Apart from the trainer so the CLI can name the error
and callers can type the result without importing the training loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class TrainingDivergedError(RuntimeError):
    """A loss (or a weight) became NaN/inf; the last good checkpoint was left intact."""

    def __init__(self, step: int, losses: dict[str, float], last_checkpoint: Path | None, what: str = "loss") -> None:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in sorted(losses.items()))
        kept = f"last good checkpoint kept: {last_checkpoint}" if last_checkpoint else "no checkpoint was written"
        super().__init__(f"training diverged at step {step}: non-finite {what} ({shown}); {kept}")
        self.step = step
        self.losses = dict(losses)


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path | None  # latest.pt (None on ranks other than 0)
    step: int
    epoch: int
    losses: dict[str, float]  # of the last step
    steps_run: int  # steps done by this call (resume counts only the new ones)
    elapsed_s: float

    @property
    def steps_per_s(self) -> float:
        return self.steps_run / self.elapsed_s if self.elapsed_s > 0 else 0.0
