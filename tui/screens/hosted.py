"""Hosted step: fine-tune through the OpenAI or Together API. Shows the provider's data checks and the
cost estimate, asks for confirmation, starts the job and follows its loss from the run's events."""

from __future__ import annotations

import os
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Sparkline, Static

from tui.screens.base import StepScreen
from tui.screens.hosted_confirm import ConfirmHostedModal


class ChecksFinished(Message):
    """The provider checks and the estimate for the current form."""

    def __init__(self, reports: list, estimate, error: str | None = None):
        super().__init__()
        self.reports = reports
        self.estimate = estimate
        self.error = error


class JobStarted(Message):
    def __init__(self, run_id: str, run_path: str):
        super().__init__()
        self.run_id = run_id
        self.run_path = run_path


class JobStartFailed(Message):
    def __init__(self, error: str):
        super().__init__()
        self.error = error


class HostedScreen(StepScreen):
    step_id = "hosted"
    CSS_PATH = "../styles/hosted.tcss"
    HELP = """Fine-tune through a provider's API instead of your own GPU.

- Pick **OpenAI** or **Together**, the training file (and a validation file), the base model and epochs
  (`auto` uses the provider's rule).
- **Check + estimate** runs the provider's own data rules (each problem with its line and field) and prices
  the job: billable tokens x epochs x the price per million tokens, with the date the price was read.
- **Start** asks for confirmation with that estimate, uploads the data and creates the job. A follower
  keeps polling in the background (also after you quit or lose the connection) and writes loss, evaluations
  and the fine-tuned model id into the run folder, so the Train step and `tunewiz watch` show it too.
- **Cancel** cancels it at the provider.
- The API key comes from `OPENAI_API_KEY` / `TOGETHER_API_KEY` or the hidden key field; it is never saved."""

    def compose_body(self) -> ComposeResult:
        from core.hosted.providers import PROVIDERS

        hosted = self.app.project.state.train.get("hosted", {})
        config = self.app.project.state.config
        provider = hosted.get("provider", "openai")
        yield Static("Hosted fine-tuning", classes="step-title")
        with Horizontal(id="hosted-main"):
            with VerticalScroll(id="hosted-form"):
                yield Label("Provider")
                with RadioSet(id="provider"):
                    for name, prov in PROVIDERS.items():
                        yield RadioButton(prov.title, value=name == provider, name=name)
                yield Label("Training file")
                yield Input(hosted.get("train_file", config.train_file), id="train-file")
                yield Label("Validation file (optional)")
                yield Input(hosted.get("val_file", config.val_file or ""), id="val-file")
                yield Label("Base model")
                yield Input(hosted.get("model", ""), placeholder=PROVIDERS[provider].default_model, id="model")
                yield Label("Epochs (a number or auto)")
                yield Input(str(hosted.get("epochs", "auto")), id="epochs")
                yield Label("API key", id="key-label")
                yield Input(password=True, id="api-key")
                yield Label("API base URL (optional: a proxy or local test server)")
                yield Input(hosted.get("base_url", ""), id="base-url")
            with Vertical(id="hosted-results"):
                with Horizontal(id="hosted-buttons"):
                    yield Button("Check + estimate", id="check", variant="primary")
                    yield Button("Start", id="start", variant="warning", disabled=True)
                    yield Button("Cancel", id="cancel-job", variant="error", disabled=True)
                yield Static("Press Check & estimate.", id="checks", markup=False)
                yield Static("", id="job-status", markup=False)
                yield Sparkline([], id="loss-spark")

    # --- form ------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._events_reader = None
        self._run_view = None
        self._cost_estimate = None
        self._update_key_label()
        run_id = self.app.project.state.train.get("hosted", {}).get("run_id")
        if run_id:
            self._follow_run(run_id)
        self.set_interval(0.5, self._refresh_job)

    @property
    def provider(self) -> str:
        pressed = self.query_one("#provider", RadioSet).pressed_button
        return pressed.name if pressed else "openai"

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _update_key_label(self) -> None:
        from core.hosted.providers import get_provider

        prov = get_provider(self.provider)
        has_env = bool(os.environ.get(prov.key_env))
        text = f"API key ({prov.key_env} is set; leave empty to use it)" if has_env else f"API key (or set {prov.key_env})"
        self.query_one("#key-label", Label).update(text)
        self.query_one("#model", Input).placeholder = prov.default_model

    @on(RadioSet.Changed, "#provider")
    def provider_changed(self) -> None:
        self._update_key_label()
        self.query_one("#start", Button).disabled = True

    def _path(self, value: str) -> str:
        path = Path(value)
        return str(path if path.is_absolute() else self.app.project.root / path)

    # --- checks ----------------------------------------------------------------------------------------
    @on(Button.Pressed, "#check")
    def check_pressed(self) -> None:
        self.query_one("#checks", Static).update("Checking...")
        self.run_checks(self.provider, self._path(self._value("train-file")),
                        self._path(self._value("val-file")) if self._value("val-file") else None,
                        self._value("model") or None, self._value("epochs") or "auto")

    @work(thread=True, exclusive=True, exit_on_error=False, group="hosted-check")
    def run_checks(self, provider: str, train: str, val: str | None, model: str | None, epochs: str) -> None:
        from core.errors import TunewizError
        from core.hosted import check_file, estimate_cost

        try:
            reports = [check_file(provider, train, model=model)]
            if val:
                reports.append(check_file(provider, val, model=model, validation=True))
            estimate = None
            if all(r.ok for r in reports):
                estimate = estimate_cost(provider, reports[0], val=reports[1] if val else None, model=model,
                                         epochs=epochs)
            self.post_message(ChecksFinished(reports, estimate))
        except TunewizError as exc:
            self.post_message(ChecksFinished([], None, exc.message))

    def on_checks_finished(self, message: ChecksFinished) -> None:
        text = Text()
        if message.error:
            text.append(message.error, style="bold red")
        for report in message.reports:
            status = ("ok", "green") if report.ok else (f"{len(report.errors)} problem(s)", "red")
            text.append(f"{Path(report.path).name}: {report.examples} examples, {report.format or '?'} format: ")
            text.append(status[0] + "\n", style=f"bold {status[1]}")
            for item in report.errors[:8]:
                where = f"line {item['line']}" if item["line"] else "file"
                field = f" {item['field']}" if item["field"] else ""
                text.append(f"  ✗ {where}{field}: {item['message']}\n", style="red")
            if len(report.errors) > 8:
                text.append(f"  ... and {len(report.errors) - 8} more (tunewiz hosted check)\n", style="red")
            for item in report.warnings[:3]:
                where = f"line {item['line']}" if item["line"] else "file"
                text.append(f"  ! {where}: {item['message']}\n", style="yellow")
        self._cost_estimate = message.estimate
        if message.estimate is not None:
            text.append("\nCost estimate\n", style="bold")
            text.append(message.estimate.summary() + "\n")
        self.query_one("#checks", Static).update(text)
        self.query_one("#start", Button).disabled = message.estimate is None

    # --- start -----------------------------------------------------------------------------------------
    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        from core.hosted.providers import get_provider

        if self._cost_estimate is None:
            return
        prov = get_provider(self.provider)
        self.app.push_screen(ConfirmHostedModal(f"Start this {prov.title} fine-tuning job?", self._cost_estimate.summary()),
                             self._confirmed)

    def _confirmed(self, yes: bool | None) -> None:
        if not yes:
            return
        self.query_one("#start", Button).disabled = True
        self.query_one("#job-status", Static).update("Uploading and creating the job...")
        key = self._value("api-key") or None
        self.start_job(self.provider, self._path(self._value("train-file")),
                       self._path(self._value("val-file")) if self._value("val-file") else None,
                       self._value("model") or None, self._value("epochs") or "auto",
                       self._value("base-url") or None, key)

    @work(thread=True, exclusive=True, exit_on_error=False, group="hosted-start")
    def start_job(self, provider, train, val, model, epochs, base_url, key) -> None:
        from core.errors import TunewizError
        from core.hosted import resolve_api_key, start_hosted_run

        try:
            api_key = key or resolve_api_key(provider, interactive=False)
            hp = {"n_epochs": epochs if provider == "openai" else (1 if epochs == "auto" else epochs)}
            poll = float(os.environ.get("TUNEWIZ_HOSTED_POLL_INTERVAL", "15"))
            run = start_hosted_run(provider, train, val_file=val, model=model, hyperparameters=hp,
                                   runs_dir=self.app.project.runs_dir, base_url=base_url, detach=True,
                                   api_key=api_key, poll_interval=poll)
            self.post_message(JobStarted(run.run_id, str(run.path)))
        except TunewizError as exc:
            self.post_message(JobStartFailed(str(exc)))
        except Exception as exc:  # noqa: BLE001 - shown, never a crash
            self.post_message(JobStartFailed(f"{type(exc).__name__}: {exc}"))

    def on_job_start_failed(self, message: JobStartFailed) -> None:
        self.query_one("#job-status", Static).update(Text(message.error, style="bold red"))
        self.query_one("#start", Button).disabled = False

    def on_job_started(self, message: JobStarted) -> None:
        state = self.app.project.state
        train = dict(state.train)
        train["run_id"] = message.run_id
        train["hosted"] = {"provider": self.provider, "run_id": message.run_id,
                           "train_file": self._value("train-file"), "val_file": self._value("val-file"),
                           "model": self._value("model"), "epochs": self._value("epochs"),
                           "base_url": self._value("base-url")}
        state.train = train
        self.app.save_project()
        self.query_one("#api-key", Input).value = ""
        self._follow_run(message.run_id)

    # --- follow ----------------------------------------------------------------------------------------
    def _follow_run(self, run_id: str) -> None:
        from core.events import EventReader, RunView
        from core.runs import RunDir

        run = RunDir(self.app.project.runs_dir / run_id)
        if not run.events.exists():
            return
        self._hosted_run = run
        self._events_reader = EventReader(run.events)
        self._run_view = RunView()
        self._refresh_job()

    def _refresh_job(self) -> None:
        if self._events_reader is None:
            return
        events = self._events_reader.read_new()
        if events:
            self._run_view.apply_all(events)
        view = self._run_view
        text = Text()
        text.append(f"Run {view.run_id or self._hosted_run.run_id}  ", style="bold")
        colour = {"finished": "green", "failed": "red", "stopped": "yellow"}.get(view.status, "cyan")
        text.append(view.status + "\n", style=f"bold {colour}")
        if view.loss is not None:
            total = f"/{view.total_steps}" if view.total_steps else ""
            text.append(f"step {view.step}{total}  loss {view.loss:.4f}")
            if view.eval_losses:
                text.append(f"  eval_loss {view.eval_losses[-1][1]:.4f}")
            text.append("\n")
        if view.output:
            text.append(f"Fine-tuned model: {view.output}\n", style="bold green")
        if view.error:
            text.append(f"{view.error}\n", style="red")
            if view.hint:
                text.append(f"hint: {view.hint}\n", style="dim")
        self.query_one("#job-status", Static).update(text)
        self.query_one("#loss-spark", Sparkline).data = [loss for _, loss in view.losses]
        self.query_one("#cancel-job", Button).disabled = not view.is_active

    @on(Button.Pressed, "#cancel-job")
    def cancel_pressed(self) -> None:
        self.cancel_job(self._hosted_run)

    @work(thread=True, exclusive=True, exit_on_error=False, group="hosted-cancel")
    def cancel_job(self, run) -> None:
        from core.errors import TunewizError
        from core.hosted import cancel_run

        try:
            cancel_run(run, api_key=self._value("api-key") or None)
        except TunewizError as exc:
            self.post_message(JobStartFailed(str(exc)))
