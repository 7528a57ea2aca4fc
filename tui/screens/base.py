"""The frame every wizard step shares: header, sidebar (steps + checklist), the step's body, footer.
A step subclasses `StepScreen`, sets `step_id`, `HELP`, and implements `compose_body()`."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input

from tui.screens.help import HelpScreen
from tui.widgets.sidebar import Sidebar


class StepScreen(Screen):
    step_id: str = ""
    HELP: str = ""
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # under 100 columns the step gets the width
    BINDINGS = [
        Binding("ctrl+right,ctrl+n", "next_step", "Next step"),
        Binding("ctrl+left", "previous_step", "Back"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Horizontal(id="frame"):
            yield Sidebar(self.step_id, id="sidebar")
            with Vertical(id="body"):
                yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_project_changed(self, _message) -> None:
        for sidebar in self.query(Sidebar):
            sidebar.refresh_content()

    def on_screen_resume(self) -> None:
        for sidebar in self.query(Sidebar):
            sidebar.refresh_content()

    def action_leave_field(self) -> None:
        """Esc in a text field hands the keys back to the step (Ctrl+←, letters), which the field otherwise keeps."""
        if isinstance(self.focused, Input):
            self.set_focus(None)

    def action_next_step(self) -> None:
        self.app.next_step()

    def action_previous_step(self) -> None:
        self.app.previous_step()

    def action_help(self) -> None:
        from tui.steps import step_title

        self.app.push_screen(HelpScreen(step_title(self.step_id), self.HELP + GENERAL_HELP))


GENERAL_HELP = """

## Everywhere
- **Ctrl+→ / Ctrl+N** next step, **Ctrl+←** previous step
- **Tab / Shift+Tab** move between controls, **Enter** activates, **Esc** leaves a text field
  (inside one, Ctrl+←/→ move by word; after Esc they change step again)
- **Ctrl+P** command palette (jump to any step), **?** or **F1** this help, **Ctrl+Q** quit
- Your choices are saved in `tunewiz.yaml`: quit or lose the connection, run `tunewiz` again and you are back here.
"""
