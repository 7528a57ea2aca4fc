"""The Train step: start a run from the current plan, then follow it live (`RunMonitor`). Relaunching
the wizard while a run is active comes back here, following it; a finished run stays on show until a
new one is started (n)."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from core.runs import RunDir
from core.watch import plan_estimate_gb
from tui.screens.base import StepScreen
from tui.screens.run_host import RunMonitorHost
from tui.widgets.run_monitor import RUN_HELP, RunMonitor

ENGINE_MISSING = (
    "The training engine is not part of this build (core.train.launch is missing), so a run cannot be "
    "started from here yet. Runs started elsewhere can still be watched with `tunewiz watch`."
)


class RunLaunched(Message):
    def __init__(self, run: RunDir):
        super().__init__()
        self.run = run


class LaunchFailed(Message):
    def __init__(self, message: str, hint: str | None = None):
        super().__init__()
        self.message, self.hint = message, hint


def resolve_run(ref: str | None, runs_dir: Path) -> RunDir | None:
    """A run recorded in the project state (an id under runs_dir, or a path) if its log exists."""
    if not ref:
        return None
    path = Path(ref) if Path(ref).is_absolute() else runs_dir / ref
    run = RunDir(path)
    return run if run.events.exists() else None


class TrainScreen(RunMonitorHost, StepScreen):
    step_id = "train"
    CSS_PATH = "../styles/train.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    HELP = """
Start a training run from the plan (model, method, batch, learning rate from the Plan step). The run is
its own process: quit, detach or lose the connection and it keeps training; `tunewiz` brings you back here.

- **Enter** on *Start training*, or **t**: start a run · **n**: start a new run after one has ended
""" + RUN_HELP
    BINDINGS = [
        Binding("t", "start_run", "Start training", show=False),
        Binding("n", "new_run", "New run", show=False),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.run: RunDir | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Train", classes="step-title", id="train-title")
        yield Vertical(id="train-main")

    def on_mount(self) -> None:
        project = self.app.project
        train = project.state.train
        run = resolve_run(train.get("active_run"), project.runs_dir) or resolve_run(train.get("last_run"), project.runs_dir)
        if run is not None:
            self.show_run(run)
        else:
            self.show_start()

    # --- what the body shows --------------------------------------------------------------------
    def show_run(self, run: RunDir) -> None:
        self.run = run
        main = self.query_one("#train-main", Vertical)
        main.remove_children()
        monitor = RunMonitor(run, plan=self.app.project.state.plan, return_hint=self._return_hint(run), id="monitor")
        main.mount(monitor)
        monitor.focus()

    def _return_hint(self, run: RunDir) -> str:
        project = self.app.project
        return f"tunewiz --project {project.root} watch {run.run_id}   (or `tunewiz` in {project.root})"

    def show_start(self, message: str | None = None) -> None:
        self.run = None
        main = self.query_one("#train-main", Vertical)
        main.remove_children()
        main.mount(Static(self._plan_summary(), id="start-summary"))
        button = Button("Start training", variant="primary", id="start-run")
        main.mount(button)
        main.mount(Static(message or "", id="start-message"))
        button.focus()

    def _plan_summary(self) -> str:
        state = self.app.project.state
        c = state.config
        length = f"{c.max_steps} steps" if c.max_steps > 0 else f"{c.epochs:g} epochs"
        lines = [
            f"Model        {c.base_model}",
            f"Method       {c.method} ({c.bits}-bit base), LoRA r={c.lora_r} alpha={c.lora_alpha}, targets {c.targets}",
            f"Length       {length}, lr {c.learning_rate:g}, warmup {c.warmup_steps}",
            f"Batch        {c.batch_size} x {c.grad_accum} accumulation = {c.batch_size * c.grad_accum} per GPU x {c.gpus} GPU(s)",
            f"Context      {c.max_seq_length} tokens, optimizer {c.optimizer}, checkpointing {c.grad_checkpointing}",
            f"Data         {c.train_file}" + (f", validation {c.val_file}" if c.val_file else ", no validation"),
            f"On OOM       {c.on_oom} (up to {c.oom_retries} automatic retries)",
        ]
        estimate = plan_estimate_gb(state.plan)
        if estimate:
            lines.append(f"Estimate     {estimate:.1f} GB peak (from the Plan step)")
        train_file = self.app.project.root / c.train_file
        if not train_file.exists():
            lines.append(f"\n⚠ {c.train_file} is not in the project yet: the Data step writes it.")
        lines.append(f"\nRuns go to {self.app.project.runs_dir}")
        return "\n".join(lines)

    # --- starting a run -------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start-run":
            event.stop()
            self.action_start_run()

    def action_start_run(self) -> None:
        if self.run is not None:
            return
        self.query_one("#start-message", Static).update("Starting the trainer…")
        self.query_one("#start-run", Button).disabled = True
        self._launch()

    def action_new_run(self) -> None:
        monitor = self.query(RunMonitor)
        if monitor and monitor.first().view.is_active:
            self.notify("A run is still active: stop it (x) or let it finish first.", severity="warning")
            return
        self.show_start()

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch")
    def _launch(self) -> None:
        from core.errors import TunewizError

        project = self.app.project
        try:
            from core.train.launch import start_run
        except ImportError as exc:
            if exc.name in ("core.train", "core.train.launch"):
                self.post_message(LaunchFailed(ENGINE_MISSING))
                return
            raise
        try:
            run = start_run(project.state.config, runs_dir=project.runs_dir, project_root=project.root, detach=True)
        except TunewizError as exc:
            self.post_message(LaunchFailed(str(exc), getattr(exc, "hint", None)))
            return
        self.post_message(RunLaunched(run))

    def on_run_launched(self, message: RunLaunched) -> None:
        project = self.app.project
        train = dict(project.state.train)
        train["active_run"] = message.run.run_id if message.run.path.parent.resolve() == project.runs_dir.resolve() \
            else str(message.run.path)
        project.state.train = train
        self.app.save_project()
        self.show_run(message.run)

    def on_launch_failed(self, message: LaunchFailed) -> None:
        text = f"Could not start the run: {message.message}" + (f"\n{message.hint}" if message.hint else "")
        self.query_one("#start-message", Static).update(text)
        self.query_one("#start-run", Button).disabled = False
        self.notify(message.message, severity="error", timeout=10)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "launch" and event.state == WorkerState.ERROR:
            self.on_launch_failed(LaunchFailed(f"{type(event.worker.error).__name__}: {event.worker.error}"))

    # --- messages from the monitor -------------------------------------------------------------
