"""Run folders: `runs/<run-id>/` with the frozen config, `events.jsonl`, `state.json`, `checkpoints/`,
the final `adapter/` (or `model/`), `train.log`, and `control/` where views drop commands.

Control commands are small JSON files in `control/`; the trainer takes them between steps, in name
order, deletes each, and answers with an event. Any number of views may send them.
Commands: pause, resume, save, stop, oom_choice (with `option`)."""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import TunewizError
from core.events import RunView, read_events

CONTROL_COMMANDS = frozenset({"pause", "resume", "save", "stop", "oom_choice"})


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def events(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    @property
    def config_file(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def model(self) -> Path:
        return self.path / "model"

    @property
    def log(self) -> Path:
        return self.path / "train.log"

    @property
    def control(self) -> Path:
        return self.path / "control"

    def read_state(self) -> dict[str, Any]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {}

    def write_state(self, **state: Any) -> None:
        write_json_atomic(self.state_file, state)

    def view(self) -> RunView:
        return RunView().apply_all(read_events(self.events))


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON to a temp file, fsync, then rename over `path`: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_run_id(prefix: str = "run") -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{prefix}-{uuid.uuid4().hex[:4]}"


def list_runs(runs_dir: str | Path) -> list[RunDir]:
    """Run folders under `runs_dir`, oldest first (by folder creation order in the name, then mtime)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    runs = [RunDir(p) for p in root.iterdir() if p.is_dir() and (p / "events.jsonl").exists()]
    return sorted(runs, key=lambda r: (r.events.stat().st_mtime if r.events.exists() else 0, r.run_id))


def find_run(runs_dir: str | Path, ref: str | None) -> RunDir:
    """A run by id, unique id prefix, or folder path; None gives the newest run."""
    if ref and Path(ref).is_dir() and (Path(ref) / "events.jsonl").exists():
        return RunDir(Path(ref).resolve())
    runs = list_runs(runs_dir)
    if not runs:
        raise TunewizError(f"no runs in {runs_dir}", hint="start one with `tunewiz train`", exit_code=2)
    if ref is None:
        return runs[-1]
    exact = [r for r in runs if r.run_id == ref]
    if exact:
        return exact[0]
    matches = [r for r in runs if r.run_id.startswith(ref) or ref in r.run_id]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise TunewizError(f"no run matches {ref!r} in {runs_dir}", hint="`tunewiz runs` lists them", exit_code=2)
    raise TunewizError(f"{ref!r} matches several runs: {', '.join(r.run_id for r in matches)}", exit_code=2)


def send_command(run: RunDir, command: str, **args: Any) -> Path:
    """Drop a control command for the trainer; returns the file written."""
    if command not in CONTROL_COMMANDS:
        raise ValueError(f"unknown control command {command!r}")
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:6]}.json"
    path = run.control / name
    write_json_atomic(path, {"command": command, "sent": time.time(), **args})
    return path


def take_commands(run: RunDir) -> list[dict[str, Any]]:
    """The trainer's side: read and delete pending commands, oldest first."""
    if not run.control.is_dir():
        return []
    out = []
    for path in sorted(run.control.glob("*.json")):
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError):
            pass
        path.unlink(missing_ok=True)
    return out


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
