"""The review mode of the Data step: pages through a seeded random sample one example at a time, rendered as a
conversation; g/b/s mark good/bad/skip, n adds a note, j jumps to a line. Marks are saved by core's
`ReviewMarks` beside the dataset; the widget posts `ExampleMarked` so the screen can tick the checklist."""

from __future__ import annotations

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label, Static

_ROLE_STYLE = {"system": "magenta", "user": "cyan", "assistant": "green", "tool": "yellow"}
_MARK_STYLE = {"good": "[b green]good[/]", "bad": "[b red]bad[/]", "skip": "[dim]skipped[/]"}


class ExampleMarked(Message):
    """Posted after a mark or note was saved."""

    def __init__(self, panel: "ReviewPanel", line: int, mark: str) -> None:
        super().__init__()
        self.panel = panel
        self.line = line
        self.mark = mark


class JumpRequested(Message):
    """Posted when the user asks to jump to a line (the screen loads it in a worker)."""

    def __init__(self, panel: "ReviewPanel") -> None:
        super().__init__()
        self.panel = panel


class NoteRequested(Message):
    def __init__(self, panel: "ReviewPanel") -> None:
        super().__init__()
        self.panel = panel


class ReviewPanel(Widget, can_focus=True):
    BINDINGS = [
        Binding("g", "mark('good')", "Good"),
        Binding("b", "mark('bad')", "Bad"),
        Binding("s", "mark('skip')", "Skip"),
        Binding("n", "note", "Note"),
        Binding("j", "jump", "Jump to line"),
        Binding("right,l", "next", "Next"),
        Binding("left,h", "previous", "Previous"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.items: list = []
        self.marks = None
        self.index = 0

    def compose(self) -> ComposeResult:
        yield Label("Load a dataset, then review a sample here.", id="review-header")
        with VerticalScroll(id="review-body"):
            yield Static("", id="review-conversation")

    def load(self, items: list, marks) -> None:
        """Attributes down: the screen hands over the sample and the marks."""
        self.items = list(items)
        self.marks = marks
        self.index = 0
        self.refresh_item()

    def show_item(self, item) -> None:
        """Show an extra item (from a jump) and make it current."""
        self.items.insert(self.index + 1 if self.items else 0, item)
        self.index = self.index + 1 if len(self.items) > 1 else 0
        self.refresh_item()

    @property
    def current(self):
        return self.items[self.index] if self.items else None

    def refresh_item(self) -> None:
        header = self.query_one("#review-header", Label)
        body = self.query_one("#review-conversation", Static)
        item = self.current
        if item is None:
            header.update("No valid examples to review.")
            body.update("")
            return
        entry = self.marks.get(item.line, item.file) if self.marks else None
        mark = _MARK_STYLE.get(entry["mark"], "") if entry else "[dim]not marked[/]"
        counts = self.marks.counts() if self.marks else {"good": 0, "bad": 0, "skip": 0}
        header.update(f"Example {self.index + 1}/{len(self.items)}  ·  line {item.line}  ·  {mark}"
                      f"  ·  reviewed: {counts['good']} good, {counts['bad']} bad, {counts['skip']} skipped")
        parts = []
        for turn in item.turns:
            style = _ROLE_STYLE.get(turn["role"], "white")
            parts.append(f"[b {style}]{escape(turn['role'])}[/]\n{escape(turn['content'])}\n")
        if entry and entry.get("note"):
            parts.append(f"[i]note: {escape(entry['note'])}[/]")
        for issue in item.issues:
            parts.append(f"[yellow]⚠ {escape(issue.code)}: {escape(issue.message)}[/]")
        body.update("\n".join(parts))

    def action_mark(self, mark: str) -> None:
        item = self.current
        if item is None or self.marks is None:
            return
        self.marks.mark(item.line, mark, file=item.file)
        self.post_message(ExampleMarked(self, item.line, mark))
        if self.index + 1 < len(self.items):
            self.index += 1
        self.refresh_item()

    def set_note(self, note: str) -> None:
        item = self.current
        if item is None or self.marks is None:
            return
        self.marks.set_note(item.line, note, file=item.file)
        entry = self.marks.get(item.line, item.file)
        self.post_message(ExampleMarked(self, item.line, entry["mark"]))
        self.refresh_item()

    def action_note(self) -> None:
        if self.current is not None:
            self.post_message(NoteRequested(self))

    def action_jump(self) -> None:
        self.post_message(JumpRequested(self))

    def action_next(self) -> None:
        if self.index + 1 < len(self.items):
            self.index += 1
            self.refresh_item()

    def action_previous(self) -> None:
        if self.index > 0:
            self.index -= 1
            self.refresh_item()
