"""The one small interface every training backend implements (setup, train, save, cleanup), in the
spirit of torchtune's recipes. The engine drives it; the backend reports through a `RunContext`."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.runs import RunDir
    from core.train.context import RunContext


@dataclass
class TrainResult:
    """How `train` ended: `step` reached, and `stopped` when it ended early (stop command, signal,
    NaN loss, early stop) rather than by running out of steps."""

    step: int
    stopped: bool
    final_loss: float | None = None


class TrainerBackend(ABC):
    """A backend trains one config in this process. Lifecycle: `setup()` (load model, data, trainer;
    returns the `model_loaded` fields), optionally `preflight()`, `train(resume_from)`, `save(dir)`,
    and always `cleanup()` (frees memory; the engine may then build a new backend after an OOM)."""

    name: str = "base"

    def __init__(self, config: "TrainConfig", run: "RunDir", ctx: "RunContext", *, max_steps: int | None = None):
        self.config = config
        self.run = run
        self.ctx = ctx
        self.max_steps = max_steps

    @abstractmethod
    def setup(self) -> dict[str, Any]:
        """Load everything; return params, trainable_params, dtype, device, backend."""

    def preflight(self) -> float | None:
        """One forward+backward pass on the longest batch; returns the measured peak GB (None if skipped)."""
        return None

    @abstractmethod
    def train(self, resume_from: Path | None) -> TrainResult:
        """Train until done or stopped, resuming from a checkpoint folder when given."""

    @abstractmethod
    def save(self, output_dir: Path) -> Path:
        """Write the final adapter (or full model) and tokenizer to `output_dir`."""

    def save_checkpoint(self) -> Path | None:
        """Checkpoint the current step now (after an OOM); None when there is nothing new to save."""
        return None

    @property
    def global_step(self) -> int:
        return 0

    def dataset_lengths(self) -> list[int]:
        """Token lengths of the training examples (for the shorten-sequence OOM option)."""
        return []

    @abstractmethod
    def cleanup(self) -> None:
        """Drop references to model/optimizer and free accelerator memory."""
