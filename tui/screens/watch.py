"""`tunewiz watch`: the live monitor for one run, full screen, outside the wizard's steps."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header

from core.runs import RunDir
from tui.screens.help import HelpScreen
from tui.screens.run_host import RunMonitorHost
from tui.widgets.run_monitor import RUN_HELP, RunMonitor


class WatchScreen(RunMonitorHost, Screen):
    CSS_PATH = "../styles/train.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]
    BINDINGS = [Binding("question_mark,f1", "help", "Help"), Binding("q", "detach", "Quit", show=False)]

    def __init__(self, run: RunDir, *, return_hint: str | None = None):
        super().__init__()
        self.run = run
        self.return_hint = return_hint

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield RunMonitor(self.run, plan=self.app.project.state.plan, return_hint=self.return_hint, id="monitor")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"watching {self.run.run_id}"
        self.query_one(RunMonitor).focus()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen("Watching a run", RUN_HELP + "\n**q** or **Ctrl+Q** quits (the run keeps going)."))

    def action_detach(self) -> None:
        self.query_one(RunMonitor).action_detach()

