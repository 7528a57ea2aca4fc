"""The live view of one run: progress, loss chart, sparklines, device panel, notes and a log tail,
with the run's keys (pause, save, stop, detach, log scale, zoom, evaluate, OOM choice).

A thread worker follows the run folder (`core.watch.RunFollower`) and posts at most a few `RunRead`
messages a second; the widget only ever reads those snapshots. Commands go to the trainer through
`core.runs.send_command`, so any number of monitors can watch and steer the same run."""

from __future__ import annotations

import threading
import time

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Label, Log, ProgressBar, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

from core.events import RunView
from core.runs import RunDir, send_command
from core.watch import (
    LogTail, RunFollower, card_memory_gb, format_duration, format_number, planned_estimate, recent, snapshot,
)
from tui.widgets.gpu_panel import GpuPanel
from tui.widgets.loss_chart import LossChart
from tui.widgets.run_notes import RunNotes

STATUS_STYLE = {
    "pending": ("starting", "dim"), "running": ("running", "bold green"), "paused": ("paused", "bold yellow"),
    "waiting_oom": ("out of memory: waiting", "bold red"), "stopped": ("stopped", "bold yellow"),
    "finished": ("finished", "bold green"), "failed": ("failed", "bold red"),
}

RUN_HELP = """
## The live training screen
It reads the run folder only: closing it, or losing the SSH connection, never touches the trainer.

- **p** pause / resume (between steps) · **s** save a checkpoint now · **x** stop (asks first; saves, then stops)
- **d** detach: leave the run training and quit; come back with `tunewiz watch RUN` (or `tunewiz` in the project)
- **l** loss chart linear / log · **z** zoom: all steps, last 1000, 200, 50
- **o** out-of-memory choices (opens by itself when the run waits for one)
- **e** evaluate, once the run has finished
- The log tail follows new lines while you are at its bottom; scroll up to read, scroll down to follow again.

Alerts say what the engine saw and what to try. The magenta `│` on a GPU's memory bar is the planned estimate.
"""


class RunRead(Message):
    """New state of the followed run (a snapshot the UI may keep) and the log lines since the last one."""

    def __init__(self, monitor: "RunMonitor", view: RunView, log_lines: list[str], liveness: str, thinned: bool):
        super().__init__()
        self.monitor, self.view, self.log_lines, self.liveness, self.thinned = monitor, view, log_lines, liveness, thinned


class RunCatchingUp(Message):
    """Progress of the first read of a long event log (0..1)."""

    def __init__(self, monitor: "RunMonitor", fraction: float):
        super().__init__()
        self.monitor, self.fraction = monitor, fraction

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunCatchingUp) and message.monitor is self.monitor


class RunEnded(Message):
    """The followed run reached stopped, finished or failed (posted once per end)."""

    def __init__(self, monitor: "RunMonitor", run: RunDir, view: RunView):
        super().__init__()
        self.monitor, self.run, self.view = monitor, run, view


class Detached(Message):
    """The person detached; `how_to_return` is what the screen prints on the way out."""

    def __init__(self, monitor: "RunMonitor", run: RunDir, how_to_return: str):
        super().__init__()
        self.monitor, self.run, self.how_to_return = monitor, run, how_to_return


class EvaluateRequested(Message):
    def __init__(self, monitor: "RunMonitor", run: RunDir, view: RunView):
        super().__init__()
        self.monitor, self.run, self.view = monitor, run, view


class CommandSent(Message):
    """A control command was written to the run's control/ folder."""

    def __init__(self, monitor: "RunMonitor", command: str, args: dict):
        super().__init__()
        self.monitor, self.command, self.args = monitor, command, args


class RunMonitor(Vertical, can_focus=True):
    BINDINGS = [
        Binding("p", "pause", "Pause"),
        Binding("s", "save", "Save"),
        Binding("x", "stop", "Stop"),
        Binding("d", "detach", "Detach"),
        Binding("l", "log_scale", "Log y"),
        Binding("z", "zoom", "Zoom"),
        Binding("e", "evaluate", "Evaluate"),
        Binding("o", "oom", "OOM fix", show=False),
    ]
    poll_interval = 0.2  # seconds between reads while the run is active
    idle_interval = 1.0  # once it has ended (a later resume is still picked up)
    min_update_interval = 0.25  # at most four screen updates a second
    liveness_interval = 2.0

    def __init__(self, run: RunDir, *, plan: dict | None = None, return_hint: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.run = run
        self.plan = plan or {}
        self.return_hint = return_hint or f"tunewiz watch {run.run_id}"
        self.view = RunView()
        self.liveness = "unknown"
        self.updates = 0  # snapshots shown (tests wait on this)
        self.oom_choice: str | None = None
        self._oom_prompted: set = set()
        self._oom_modal = None
        self._ended_key = None
        self._stopping = threading.Event()

    def compose(self) -> ComposeResult:
        yield Static(id="run-head")
        with Horizontal(id="progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="progress")
            yield Static(id="progress-text")
        with Horizontal(id="mid"):
            yield LossChart(id="loss-chart")
            with Vertical(id="side"):
                yield GpuPanel(id="gpu-panel")
                for key, label in (("loss", "loss"), ("lr", "lr"), ("grad", "grad")):
                    with Horizontal(classes="spark-row"):
                        yield Label(label, classes="spark-label")
                        yield Sparkline([], id=f"spark-{key}")
                        yield Label("--", id=f"spark-{key}-value", classes="spark-value")
        yield RunNotes(id="run-notes")
        yield Log(id="log-tail", max_lines=2000, auto_scroll=True)

    def on_mount(self) -> None:
        self.query_one("#log-tail", Log).border_title = "train.log"
        self.query_one("#run-head", Static).update(f"{self.run.run_id} · reading the run folder…")
        self._follow()

    def on_unmount(self) -> None:
        self._stopping.set()

    # --- the follower (a thread: posts messages, never touches widgets) -------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="follow")
    def _follow(self) -> None:
        worker = get_current_worker()
        follower = RunFollower(self.run, share_cpu=0.002)
        last_progress = [0.0]

        def progress(fraction: float) -> None:
            now = time.monotonic()
            if now - last_progress[0] > self.min_update_interval:
                last_progress[0] = now
                self.post_message(RunCatchingUp(self, fraction))

        follower.catch_up(progress)
        tail = LogTail(self.run.log)
        lines = tail.initial(200)
        liveness, checked = follower.liveness(), time.monotonic()
        dirty, last_post = True, 0.0
        while not worker.is_cancelled and not self._stopping.is_set():
            new = follower.poll()
            more = tail.read_new()
            if more:
                lines.extend(more)
                del lines[:-2000]
            dirty = dirty or bool(new or more)
            now = time.monotonic()
            if now - checked >= self.liveness_interval:
                checked, previous = now, liveness
                liveness = follower.liveness()
                dirty = dirty or liveness != previous
            if dirty and now - last_post >= self.min_update_interval:
                self.post_message(RunRead(self, snapshot(follower.view), lines, liveness, follower.stride > 1))
                lines, dirty, last_post = [], False, now
            if new and follower.reader.offset < self._events_size():
                continue  # still behind a fast writer: read on without sleeping
            self._stopping.wait(self.poll_interval if follower.view.is_active or dirty else self.idle_interval)

    def _events_size(self) -> int:
        try:
            return self.run.events.stat().st_size
        except FileNotFoundError:
            return 0

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "follow" and event.state == WorkerState.ERROR:
            error = event.worker.error
            self.query_one("#run-head", Static).update(f"{self.run.run_id} · could not read the run: {error}")
            self.notify(f"reading {self.run.run_id} failed: {error}", severity="error", timeout=10)

    # --- showing a snapshot -------------------------------------------------------------------
    def on_run_catching_up(self, message: RunCatchingUp) -> None:
        if message.monitor is self:
            self.query_one("#run-head", Static).update(f"{self.run.run_id} · reading the event log… {message.fraction:.0%}")

    def on_run_read(self, message: RunRead) -> None:
        if message.monitor is not self:
            return
        message.stop()
        view = self.view = message.view
        self.liveness = message.liveness
        if view.pending_oom is None:
            self.oom_choice = None
        self._show_head(view, message.thinned)
        self._show_progress(view)
        chart = self.query_one(LossChart)
        chart.ended = not view.is_active
        chart.show(view.losses, view.eval_losses)
        self._spark("loss", [v for _, v in view.losses], view.loss)
        self._spark("lr", view.learning_rates, view.learning_rate)
        self._spark("grad", view.grad_norms, view.grad_norm)
        planned, source = planned_estimate(view, self.plan)
        self.query_one(GpuPanel).show(view.gpu, device_hint=view.model.get("device"), planned=planned,
                                      planned_source=source, ended=not view.is_active)
        self.query_one(RunNotes).show(view, run_id=self.run.run_id, liveness=self.liveness, oom_choice=self.oom_choice)
        if message.log_lines:
            self.query_one("#log-tail", Log).write_lines(message.log_lines)
        self.updates += 1
        self._maybe_prompt_oom(view)
        self._maybe_end(view)

    def _show_head(self, view: RunView, thinned: bool) -> None:
        label, style = STATUS_STYLE.get(view.status, (view.status, ""))
        if view.is_active and self.liveness == "dead":
            label, style = "trainer not running", "bold red"
        model = view.config.get("base_model") or view.model.get("model") or ""
        device = view.gpu.get("device") or view.model.get("device") or "?"
        from rich.text import Text

        text = Text()
        text.append(f" {label} ", style=f"{style} reverse")
        text.append(f" {self.run.run_id}", style="bold")
        details = [d for d in (model.split("/")[-1] if model else "", view.backend or "", device) if d]
        text.append("  " + " · ".join(details), style="dim")
        if thinned:
            text.append(f"  ({view.events_seen:,} events; older steps thinned)", style="dim italic")
        self.query_one("#run-head", Static).update(text)

    def _show_progress(self, view: RunView) -> None:
        bar = self.query_one("#progress", ProgressBar)
        if view.total_steps:
            bar.update(total=view.total_steps, progress=min(view.step, view.total_steps))
        bar.display = bool(view.total_steps) or view.is_active
        parts = [f"step {view.step}/{view.total_steps or '?'}"]
        busy = _between_steps(view)
        if busy:
            parts.append(busy)
        elif view.is_active:
            parts.append(f"ETA {format_duration(view.eta)}")
        parts.append(f"elapsed {format_duration(view.elapsed)}")
        if view.tokens_per_s:
            parts.append(f"{view.tokens_per_s:,.0f} tok/s")
        if view.epoch is not None:
            parts.append(f"epoch {view.epoch:.2f}")
        self.query_one("#progress-text", Static).update(" · ".join(parts))

    def _spark(self, key: str, values: list[float], current: float | None) -> None:
        self.query_one(f"#spark-{key}", Sparkline).data = recent(values)
        self.query_one(f"#spark-{key}-value", Label).update(format_number(current, 3))

    # --- OOM ------------------------------------------------------------------------------------
    @staticmethod
    def _oom_key(oom: dict) -> tuple:
        return (oom.get("time"), oom.get("step"), oom.get("where"))

    def _maybe_prompt_oom(self, view: RunView) -> None:
        oom = view.pending_oom
        if oom is None:
            if self._oom_modal is not None and self._oom_modal in self.app.screen_stack:
                self._oom_modal.dismiss(None)  # answered elsewhere (another watcher or the CLI)
            self._oom_modal = None
            return
        key = self._oom_key(oom)
        if key in self._oom_prompted or self.oom_choice:
            return
        self._oom_prompted.add(key)
        self.action_oom()

    def action_oom(self) -> None:
        from tui.screens.oom import OomScreen

        oom = self.view.pending_oom
        if oom is None:
            self.notify("The run is not waiting for an out-of-memory choice.")
            return
        if self._oom_modal is not None and self._oom_modal in self.app.screen_stack:
            return
        self._oom_modal = OomScreen(oom, card_gb=card_memory_gb(self.view, oom), run_id=self.run.run_id)
        self.app.push_screen(self._oom_modal, self._oom_answered)

    def _oom_answered(self, option_id: str | None) -> None:
        self._oom_modal = None
        if option_id is None or self.view.pending_oom is None:
            if option_id is None and self.view.pending_oom is not None:
                self.notify("The run keeps waiting; press o to choose a fix.", timeout=6)
            return
        self._send("oom_choice", option=option_id)
        self.oom_choice = option_id
        self.query_one(RunNotes).show(self.view, run_id=self.run.run_id, liveness=self.liveness, oom_choice=option_id)

    # --- end of run -----------------------------------------------------------------------------
    def _maybe_end(self, view: RunView) -> None:
        if view.is_active:
            self._ended_key = None
            return
        key = (view.status, view.step)
        if key != self._ended_key:
            self._ended_key = key
            self.post_message(RunEnded(self, self.run, view))

    # --- keys -----------------------------------------------------------------------------------
    def _send(self, command: str, **args) -> bool:
        try:
            send_command(self.run, command, **args)
        except OSError as exc:
            self.notify(f"could not send {command}: {exc}", severity="error")
            return False
        self.post_message(CommandSent(self, command, args))
        return True

    def _require_active(self, what: str) -> bool:
        if self.view.is_active and self.liveness != "dead":
            return True
        why = "its trainer is not running" if self.view.is_active else f"the run has {self.view.status}"
        self.notify(f"Cannot {what}: {why}.", severity="warning")
        return False

    def action_pause(self) -> None:
        if not self._require_active("pause"):
            return
        command = "resume" if self.view.status == "paused" else "pause"
        if self._send(command):
            self.notify(f"{command} requested; it takes effect between steps.")

    def action_save(self) -> None:
        if self._require_active("save a checkpoint") and self._send("save"):
            self.notify("checkpoint requested; it is saved after the current step.")

    def action_stop(self) -> None:
        from tui.screens.stop_run import StopRunScreen

        if not self._require_active("stop"):
            return

        def answered(stop: bool | None) -> None:
            if stop and self._send("stop"):
                self.notify("stop requested: the trainer saves a checkpoint, then stops.")

        self.app.push_screen(StopRunScreen(self.run.run_id), answered)

    def action_detach(self) -> None:
        state = "keeps training" if self.view.is_active else f"has {self.view.status}"
        text = f"Detached from {self.run.run_id}; it {state}.\nCome back with:  {self.return_hint}"
        self.post_message(Detached(self, self.run, text))

    def action_log_scale(self) -> None:
        self.query_one(LossChart).toggle_scale()

    def action_zoom(self) -> None:
        self.query_one(LossChart).cycle_zoom()

    def action_evaluate(self) -> None:
        if self.view.status != "finished":
            self.notify("Evaluation opens once the run has finished.", severity="warning")
            return
        self.post_message(EvaluateRequested(self, self.run, self.view))


def _between_steps(view: RunView) -> str | None:
    """What a running trainer is doing when no step events come: loading, or a validation pass (which can
    take minutes on a CPU and would otherwise look like a hang)."""
    if view.status not in ("pending", "running"):
        return None
    if view.step == 0:
        return "loading the model…" if not view.model else "first step…"
    eval_steps, val_file = view.config.get("eval_steps"), view.config.get("val_file")
    last_eval = view.eval_losses[-1][0] if view.eval_losses else None
    if val_file and eval_steps and view.step % int(eval_steps) == 0 and last_eval != view.step:
        return "evaluating on the validation split…"
    return None
