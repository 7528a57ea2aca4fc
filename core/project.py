"""The project file `tunewiz.yaml`: where the wizard is and what the person chose, so quitting or a
dropped SSH session and relaunching `tunewiz` returns to the same step with the same choices."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.checklist import CHECKLIST_IDS, item
from core.config import TrainConfig, describe_validation_error, read_yaml_mapping
from core.errors import ConfigError

PROJECT_FILE = "tunewiz.yaml"
STEPS = ("decide", "data", "plan", "train", "hosted", "evaluate", "export")


class ChecklistMark(BaseModel):
    model_config = ConfigDict(extra="forbid")
    done: bool = False
    note: str = ""
    at: str | None = None


class DecideState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(default_factory=dict, description="Answers by question id.")
    recommendation: str | None = Field(None, description="The guide's recommendation for these answers.")
    proceed_against_advice: bool = Field(False, description="The person chose to fine-tune although the advice was otherwise.")


class ProjectState(BaseModel):
    """Everything the wizard remembers between launches. Sections for later steps are free-form dicts
    owned by their step (data, plan, train, evaluate, export)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    version: int = Field(1, description="Project file format version.")
    step: str = Field("decide", description=f"The wizard step to open on: one of {', '.join(STEPS)}.")
    config: TrainConfig = Field(default_factory=TrainConfig)
    decide: DecideState = Field(default_factory=DecideState)
    data: dict[str, Any] = Field(default_factory=dict)
    plan: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)
    evaluate: dict[str, Any] = Field(default_factory=dict)
    export: dict[str, Any] = Field(default_factory=dict)
    checklist: dict[str, ChecklistMark] = Field(default_factory=dict)

    def tick(self, item_id: str, note: str = "", done: bool = True) -> None:
        """Mark a checklist item verified (or not), with a short note of what verified it."""
        item(item_id)  # raises on unknown ids
        marks = dict(self.checklist)
        marks[item_id] = ChecklistMark(done=done, note=note, at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self.checklist = marks

    def is_ticked(self, item_id: str) -> bool:
        mark = self.checklist.get(item_id)
        return bool(mark and mark.done)

    def ticked_count(self) -> int:
        return sum(1 for i in CHECKLIST_IDS if self.is_ticked(i))


class Project:
    """A project folder: `tunewiz.yaml`, `runs/`, the data splits. All paths resolve inside `root`."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or os.getcwd()).resolve()
        self.file = self.root / PROJECT_FILE
        self.state = self.load()

    def load(self) -> ProjectState:
        if not self.file.exists():
            return ProjectState()
        data = read_yaml_mapping(self.file, hint="; fix or delete it to start over")
        try:
            state = ProjectState.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, ProjectState, str(self.file))) from None
        if state.step not in STEPS:
            raise ConfigError(f"{self.file}: step: {state.step!r} is not a step; allowed: {', '.join(STEPS)}")
        return state

    def save(self) -> None:
        """Write atomically: a crash mid-write never leaves a truncated project file."""
        import yaml

        text = yaml.safe_dump(self.state.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tunewiz.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @property
    def runs_dir(self) -> Path:
        """Runs folder: TUNEWIZ_RUNS_DIR, else the config's output_dir, else `runs/` in the project."""
        env = os.environ.get("TUNEWIZ_RUNS_DIR")
        if env:
            return Path(env).resolve()
        if self.state.config.output_dir:
            return (self.root / self.state.config.output_dir).resolve()
        return self.root / "runs"
