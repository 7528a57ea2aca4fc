"""Modal prompts used by the Data step: a problem's raw line and fix, a text prompt, and a file picker."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Label, Static


class IssueDetailScreen(ModalScreen[None]):
    """The raw line of a problem, what is wrong, and how to fix it."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, issue, raw_line: str):
        super().__init__()
        self.issue = issue
        self.raw_line = raw_line

    def compose(self) -> ComposeResult:
        i = self.issue
        where = f"line {i.line}" if i.line is not None else "whole file"
        with Vertical(id="issue-box", classes="modal-box"):
            yield Label(f"[b]{escape(i.code)}[/b]  {escape(where)}" + (f"  field [b]{escape(i.field)}[/b]" if i.field else ""),
                        id="issue-title")
            yield Static(escape(i.message), id="issue-message")
            yield Static(f"[b]Fix:[/b] {escape(i.fix)}", id="issue-fix")
            yield Label("Raw line:", classes="muted")
            yield Static(escape(self.raw_line or "(no raw text for this finding)"), id="issue-raw")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class TextPromptScreen(ModalScreen["str | None"]):
    """Ask for one line of text (a note, a line number); Enter accepts, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, prompt: str, value: str = "", placeholder: str = ""):
        super().__init__()
        self.prompt = prompt
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box prompt-box"):
            yield Label(self.prompt)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            with Horizontal(classes="buttons"):
                yield Button("OK", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.query_one(Input).value if event.button.id == "ok" else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FilePickerScreen(ModalScreen["str | None"]):
    """Pick a dataset file from a directory tree."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, root: str | Path):
        super().__init__()
        self.root = Path(root)

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box picker-box"):
            yield Label(f"Pick a dataset file (.jsonl .json .csv .parquet) under {escape(str(self.root))}")
            yield DirectoryTree(self.root, id="picker-tree")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.dismiss(str(event.path))

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
