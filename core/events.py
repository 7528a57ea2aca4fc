"""The run's append-only event log, `events.jsonl`: one JSON object per line. This module is the one
writer and the one reader every view uses (TUI, CLI, tests).

Every event has `v` (schema version), `type` and `time` (Unix seconds). Types and their fields:

- run_started: run_id, config (dict), backend, pid, resumed_from (step or null), world_size (processes)
- model_loaded: params, trainable_params, dtype, device, backend, estimate_gb (VRAM estimator, or null),
  preflight_peak_gb (measured peak of the preflight pass on CUDA, or null)
- step: step, total_steps, epoch, loss, learning_rate, grad_norm, tokens_per_s, elapsed, eta
- eval: step, eval_loss
- checkpoint: step, path
- gpu: device ("cuda" or "cpu"), gpus [{index, name, util, mem_used_gb, mem_total_gb, temp_c, power_w}],
  peak_allocated_gb, peak_reserved_gb, rss_gb
- alert: kind (loss_spike, flat_loss, nan_loss, grad_explosion, overfitting), step, message, advice
- oom: step, where (train, eval, checkpoint, preflight), batch_size, max_seq_length, estimate_gb, peak_gb,
  options [{id, label, changes, predicted_gb, cost, source (estimator|heuristic)}], mode (ask, auto, stop),
  waiting (bool)
- recovered: option, changes, step
- paused, resumed: step
- stopped: step, reason (requested, signal, nan_loss), checkpoint (the newest complete one, or null)
- finished: step, output (adapter or model folder), final_loss, early_stopped (bool)
- failed: error, hint
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

SCHEMA_VERSION = 1

EVENT_TYPES = frozenset(
    {
        "run_started", "model_loaded", "step", "eval", "checkpoint", "gpu", "alert", "oom", "recovered",
        "paused", "resumed", "stopped", "finished", "failed",
    }
)
TERMINAL_TYPES = frozenset({"stopped", "finished", "failed"})


class EventWriter:
    """Appends events to `events.jsonl`. Each event is one `write` of one whole line with O_APPEND,
    so concurrent readers only ever see whole lines or a partial last line."""

    def __init__(self, path: str | Path, *, fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._fd: int | None = None  # kept open between events: a trainer writes one per step

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = {"v": SCHEMA_VERSION, "type": type, "time": round(time.time(), 3), **sanitize(fields)}
        line = (json.dumps(event, default=_json_default, allow_nan=False) + "\n").encode("utf-8")
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line)
        if self._fsync or type in TERMINAL_TYPES or type == "checkpoint":
            os.fsync(self._fd)
        return event

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    return str(obj)


def sanitize(value: Any) -> Any:
    """NaN and infinities are not JSON: write them as the strings "nan", "inf", "-inf"."""
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value


def as_float(value: Any) -> float | None:
    """Read a numeric field back, turning "nan"/"inf" strings into floats."""
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse_line(line: bytes | str) -> dict[str, Any] | None:
    """One line to an event, or None for a blank, corrupt or foreign line (never raises)."""
    try:
        obj = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(obj, dict) or "type" not in obj:
        return None
    return obj


class EventReader:
    """Incremental reader: each `read_new()` returns the whole lines appended since the last call.
    A partial last line (the writer mid-write, or a crash) is left for the next call."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.offset = 0
        self.bad_lines = 0

    def read_new(self, max_bytes: int | None = None) -> list[dict[str, Any]]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read() if max_bytes is None else fh.read(max_bytes)
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        complete = chunk[: end + 1]
        self.offset += len(complete)
        events = []
        for raw in complete.splitlines():
            if not raw.strip():
                continue
            event = parse_line(raw)
            if event is None:
                self.bad_lines += 1
            else:
                events.append(event)
        return events


def read_events(path: str | Path) -> list[dict[str, Any]]:
    """All whole events in the file (a partial last line is ignored)."""
    return EventReader(path).read_new()


@dataclass
class RunView:
    """What every view shows of a run, folded from its events. `apply` is incremental, so a watcher
    folds only new events; `max_points` bounds memory on very long logs (older points are thinned)."""

    max_points: int = 20_000
    run_id: str | None = None
    status: str = "pending"  # pending, running, paused, waiting_oom, stopped, finished, failed
    backend: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    total_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    tokens_per_s: float | None = None
    elapsed: float | None = None
    eta: float | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    eval_losses: list[tuple[int, float]] = field(default_factory=list)
    learning_rates: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    gpu: dict[str, Any] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    ooms: list[dict[str, Any]] = field(default_factory=list)
    recoveries: list[dict[str, Any]] = field(default_factory=list)
    pending_oom: dict[str, Any] | None = None
    last_checkpoint: str | None = None
    output: str | None = None
    error: str | None = None
    hint: str | None = None
    events_seen: int = 0

    def apply(self, event: dict[str, Any]) -> None:
        self.events_seen += 1
        kind = event.get("type")
        if kind == "run_started":
            self.run_id = event.get("run_id", self.run_id)
            self.config = event.get("config") or self.config
            self.backend = event.get("backend", self.backend)
            self.status = "running"
            self.error = self.hint = None
        elif kind == "model_loaded":
            self.model = {k: v for k, v in event.items() if k not in ("v", "type", "time")}
            self.backend = event.get("backend", self.backend)
        elif kind == "step":
            self.step = int(event.get("step", self.step))
            self.total_steps = event.get("total_steps", self.total_steps)
            self.epoch = as_float(event.get("epoch"))
            self.loss = as_float(event.get("loss"))
            self.learning_rate = as_float(event.get("learning_rate"))
            self.grad_norm = as_float(event.get("grad_norm"))
            self.tokens_per_s = as_float(event.get("tokens_per_s"))
            self.elapsed = as_float(event.get("elapsed"))
            self.eta = as_float(event.get("eta"))
            if self.status in ("pending", "waiting_oom"):
                self.status = "running"
            if self.loss is not None:
                self._append(self.losses, (self.step, self.loss))
            if self.learning_rate is not None:
                self._append(self.learning_rates, self.learning_rate)
            if self.grad_norm is not None:
                self._append(self.grad_norms, self.grad_norm)
        elif kind == "eval":
            value = as_float(event.get("eval_loss"))
            if value is not None:
                self._append(self.eval_losses, (int(event.get("step", self.step)), value))
        elif kind == "checkpoint":
            self.last_checkpoint = event.get("path")
        elif kind == "gpu":
            self.gpu = {k: v for k, v in event.items() if k not in ("v", "type")}
        elif kind == "alert":
            self.alerts.append(event)
        elif kind == "oom":
            self.ooms.append(event)
            self.pending_oom = event if event.get("waiting") else None
            if event.get("waiting"):
                self.status = "waiting_oom"
        elif kind == "recovered":
            self.recoveries.append(event)
            self.pending_oom = None
            self.status = "running"
        elif kind == "paused":
            self.status = "paused"
        elif kind == "resumed":
            self.status = "running"
        elif kind in TERMINAL_TYPES:
            self.status = kind
            self.pending_oom = None
            if kind == "finished":
                self.output = event.get("output")
                self.step = int(event.get("step", self.step))
            elif kind == "failed":
                self.error = event.get("error")
                self.hint = event.get("hint")

    def apply_all(self, events: Iterable[dict[str, Any]]) -> "RunView":
        for event in events:
            self.apply(event)
        return self

    def _append(self, series: list, value: Any) -> None:
        series.append(value)
        if len(series) > self.max_points:
            del series[: len(series) // 2 : 2]  # thin the oldest half to keep memory bounded

    @property
    def is_active(self) -> bool:
        return self.status in ("pending", "running", "paused", "waiting_oom")


def fold(events: Iterable[dict[str, Any]]) -> RunView:
    return RunView().apply_all(events)
