"""The yes/no modal shown before a hosted job is created: the cost estimate, then Start or Cancel."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmHostedModal(ModalScreen[bool]):
    """Dismisses True to start the (paid) job, False to go back."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ConfirmHostedModal { align: center middle; }
    ConfirmHostedModal > Vertical { width: 84; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmHostedModal #confirm-buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ConfirmHostedModal Button { margin-left: 2; }
    """

    def __init__(self, title: str, summary: str):
        super().__init__()
        self.title_text = title
        self.summary = summary

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"[b]{self.title_text}[/b]\n", markup=True)
            yield Static(self.summary, id="confirm-summary", markup=False)
            yield Static("\nThe provider bills your account for this job.", classes="dim")
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="no")
                yield Button("Start job", id="yes", variant="warning")

    @on(Button.Pressed, "#yes")
    def start(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def action_cancel(self) -> None:
        self.dismiss(False)
