"""A modal that shows a screen's help text; Escape or ? closes it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def __init__(self, title: str, body: str):
        super().__init__()
        self.help_title = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Markdown(f"# {self.help_title}\n\n{self.body}\n\n*Esc closes this help.*")

    def action_dismiss(self) -> None:
        self.dismiss(None)
