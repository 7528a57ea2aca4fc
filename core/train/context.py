"""What a backend's training loop reports to and asks of the engine, independent of the backend:
step/eval/checkpoint events, health alerts, telemetry, control commands (pause, resume, save, stop)
and injected faults. Only the main process (rank 0) writes events and state; in a multi-process run
the other ranks receive rank 0's control decisions through a broadcast."""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Any

from core.events import EventWriter
from core.runs import RunDir, take_commands
from core.train import telemetry
from core.train.alerts import HealthMonitor
from core.train.faults import FaultPlan

GPU_EVENT_INTERVAL_S = 5.0
STATE_WRITE_INTERVAL_S = 2.0
PAUSE_POLL_S = 0.25
# Control commands are human actions (pause, save, stop, an OOM choice): looking for them every step
# cost more than the rest of the per-step bookkeeping on small models, and a quarter second is instant.
CONTROL_POLL_S = 0.25


def process_rank() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (torchrun / accelerate launch)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


class RunContext:
    """One per trainer process. `state` is the dict persisted as state.json (by rank 0)."""

    def __init__(self, run: RunDir, state: dict[str, Any], *, warmup_steps: int = 0, early_stop: bool = False):
        self.run = run
        self.rank, self.world_size = process_rank()
        self.is_main = self.rank == 0
        self.writer = EventWriter(run.events) if self.is_main else None
        self.state = state
        self.monitor = HealthMonitor(warmup_steps=warmup_steps, early_stop=early_stop)
        self.faults = FaultPlan(fired=state.get("faults_fired"), on_fire=self._faults_fired)
        self.where = "setup"  # train, eval, checkpoint, preflight: where an OOM happened
        self.stop_reason: str | None = None  # requested, signal, nan_loss, overfitting
        self.tokens = 0
        self._session_start = time.time()
        self._session_start_step: int | None = None
        self._elapsed_before = float(state.get("elapsed", 0.0))
        self._last_step_time = time.time()
        self._last_step_tokens = 0
        self._last_gpu_event = 0.0
        self._last_state_write = 0.0
        self._last_control_poll = 0.0
        self.last_loss: float | None = None
        self.total_steps: int | None = state.get("total_steps")

    # --- output -----------------------------------------------------------------------------
    def emit(self, type: str, **fields: Any) -> None:
        if self.writer is not None:
            self.writer.emit(type, **fields)

    def save_state(self, force: bool = True, **updates: Any) -> None:
        self.state.update(updates)
        if not self.is_main:
            return
        now = time.time()
        if force or now - self._last_state_write >= STATE_WRITE_INTERVAL_S:
            self.state["updated"] = round(now, 3)
            self.run.write_state(**self.state)
            self._last_state_write = now

    def _faults_fired(self, fired: list[str]) -> None:
        self.save_state(faults_fired=list(fired))

    def elapsed(self) -> float:
        return self._elapsed_before + (time.time() - self._session_start)

    # --- hooks the backend calls ------------------------------------------------------------
    def on_train_begin(self, step: int, total_steps: int) -> None:
        self.total_steps = total_steps
        self.monitor.total_steps = total_steps
        if self._session_start_step is None:
            self._session_start_step = step
            self._session_start_time_step = time.time()
        self._last_step_time = time.time()
        self._last_step_tokens = self.tokens
        self.where = "train"
        self.save_state(total_steps=total_steps, step=step)

    def count_tokens(self, n: int) -> None:
        self.tokens += int(n)

    def on_log(self, step: int, epoch: float | None, loss: float | None, learning_rate: float | None,
               grad_norm: float | None) -> list[dict[str, Any]]:
        """A logged optimizer step: writes the `step` event (plus alerts and a periodic `gpu` event).
        Returns the alerts that fired; `stop_reason` is set when the run must stop."""
        now = time.time()
        dt = max(now - self._last_step_time, 1e-9)
        tokens_per_s = (self.tokens - self._last_step_tokens) / dt
        self._last_step_time, self._last_step_tokens = now, self.tokens
        start_step = self._session_start_step or 0
        done_here = max(step - start_step, 1)
        per_step = (now - self._session_start_time_step) / done_here if hasattr(self, "_session_start_time_step") else None
        eta = per_step * max((self.total_steps or step) - step, 0) if per_step is not None else None
        self.emit(
            "step", step=step, total_steps=self.total_steps, epoch=_r(epoch, 4), loss=_r(loss, 6),
            learning_rate=learning_rate, grad_norm=_r(grad_norm, 6), tokens_per_s=_r(tokens_per_s, 1),
            elapsed=_r(self.elapsed(), 2), eta=_r(eta, 1),
        )
        if loss is not None and math.isfinite(loss):
            self.last_loss = loss
        alerts = self.monitor.observe_step(step, loss, grad_norm)
        for alert in alerts:
            self.emit("alert", **alert)
        if self.monitor.stop_reason and not self.stop_reason:
            self.stop_reason = self.monitor.stop_reason
        if now - self._last_gpu_event >= GPU_EVENT_INTERVAL_S:
            self._last_gpu_event = now
            self.emit("gpu", **telemetry.sample())
        self.save_state(force=False, step=step, elapsed=round(self.elapsed(), 2), last_loss=self.last_loss)
        return alerts

    def on_eval(self, step: int, eval_loss: float | None) -> None:
        self.emit("eval", step=step, eval_loss=_r(eval_loss, 6))
        for alert in self.monitor.observe_eval(step, eval_loss):
            self.emit("alert", **alert)
        if self.monitor.stop_reason and not self.stop_reason:
            self.stop_reason = self.monitor.stop_reason

    def on_checkpoint(self, step: int, path: str) -> None:
        self.emit("checkpoint", step=step, path=path)
        self.save_state(step=step, last_checkpoint=path)

    def poll_control(self, step: int) -> set[str]:
        """Between steps: take control commands. Blocks while paused. Returns actions for the loop:
        "save" (checkpoint now) and/or "stop" (save, then stop)."""
        actions: set[str] = set()
        now = time.monotonic()
        if self.is_main and (self.stop_reason or now - self._last_control_poll >= CONTROL_POLL_S):
            self._last_control_poll = now
            actions = self._take_actions(step)
        if self.world_size > 1:
            actions = _broadcast_actions(actions)
        if "stop" in actions and not self.stop_reason:
            self.stop_reason = "requested"
        return actions

    def _take_actions(self, step: int) -> set[str]:
        actions: set[str] = set()
        if self.stop_reason in ("signal", "requested"):
            actions.add("stop")
        paused = False
        while True:
            for cmd in take_commands(self.run):
                name = cmd.get("command")
                if name == "pause" and not paused:
                    paused = True
                    self.emit("paused", step=step)
                    self.save_state(status="paused")
                elif name == "resume" and paused:
                    paused = False
                    self.emit("resumed", step=step)
                    self.save_state(status="running")
                elif name == "save":
                    actions.add("save")
                elif name == "stop":
                    actions.add("stop")
            if self.stop_reason == "signal":
                actions.add("stop")
            if not paused or "stop" in actions:
                if paused:
                    self.emit("resumed", step=step)
                    self.save_state(status="running")
                return actions
            time.sleep(PAUSE_POLL_S)

    def install_signal_handlers(self) -> None:
        """SIGHUP is ignored (a dropped terminal must not matter); SIGTERM/SIGINT mean "save and stop"."""
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

        def _stop(signum, frame):
            self.stop_reason = "signal"

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


def _broadcast_actions(actions: set[str]) -> set[str]:
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return actions
    box = [sorted(actions)]
    dist.broadcast_object_list(box, src=0)
    return set(box[0])


def _r(value: float | None, digits: int) -> float | None:
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return round(value, digits) if math.isfinite(value) else value
