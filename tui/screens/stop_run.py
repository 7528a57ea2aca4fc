"""Asks before stopping a run: the trainer saves a checkpoint, then stops; it can be resumed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class StopRunScreen(ModalScreen[bool]):
    CSS_PATH = "../styles/train.tcss"
    BINDINGS = [Binding("y", "answer(True)", "Stop"), Binding("n,escape", "answer(False)", "Keep training")]

    def __init__(self, run_id: str):
        super().__init__()
        self.run_id = run_id

    def compose(self) -> ComposeResult:
        with Vertical(id="stop-box"):
            yield Static(f"Stop {self.run_id}?", id="stop-title")
            yield Static("The trainer saves a checkpoint first, then stops. "
                         f"Continue later with `tunewiz resume {self.run_id}`.")
            with Horizontal(id="stop-buttons"):
                yield Button("Stop (y)", variant="error", id="stop-yes")
                yield Button("Keep training (n)", variant="primary", id="stop-no")

    def on_mount(self) -> None:
        self.query_one("#stop-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "stop-yes")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)
