"""The wizard app. Kept small: screens live in `tui/screens/`, widgets in `tui/widgets/`, styles in
`tui/styles/`. Build it with `make_app` (shared by the CLI, the tests and the screenshot script)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen

from core.project import Project
from tui.steps import load_screen_class, next_of, previous_of, step_ids, step_title


class ProjectChanged(Message):
    """Posted (to the app) after the project state changed and was saved; the sidebar redraws."""


class TunewizApp(App[int]):
    CSS_PATH = ["styles/app.tcss"]
    TITLE = "tunewiz"
    SUB_TITLE = "fine-tune an LLM, honestly"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, project: Project, start_step: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.project = project
        self.start_step = start_step

    # --- navigation -------------------------------------------------------------------------
    @property
    def steps(self) -> list[str]:
        return step_ids()

    @property
    def current_step(self) -> str:
        return self.project.state.step

    def on_mount(self) -> None:
        step = self.start_step or self.project.state.step
        if step not in self.steps:
            step = self.steps[0]
        self.goto(step)

    def _screen_for(self, step: str) -> str:
        name = f"step-{step}"
        if not self.is_screen_installed(name):
            self.install_screen(load_screen_class(step)(), name)
        return name

    def goto(self, step: str) -> None:
        """Show `step` and remember it in the project file."""
        if step not in self.steps:
            return
        first = self.screen_stack == [] or not isinstance(self.screen, Screen) or len(self.screen_stack) <= 1
        name = self._screen_for(step)
        if self.project.state.step != step:
            self.project.state.step = step
            self.save_project()
        if first and not any(getattr(s, "step_id", None) for s in self.screen_stack):
            self.push_screen(name)
        else:
            self.switch_screen(name)

    def next_step(self) -> None:
        step = next_of(self.current_step)
        if step:
            self.goto(step)

    def previous_step(self) -> None:
        step = previous_of(self.current_step)
        if step:
            self.goto(step)

    # --- state --------------------------------------------------------------------------------
    def save_project(self) -> None:
        self.project.save()
        for screen in self.screen_stack:
            screen.post_message(ProjectChanged())

    def tick(self, item_id: str, note: str = "", done: bool = True) -> None:
        self.project.state.tick(item_id, note, done)
        self.save_project()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for step in self.steps:
            yield SystemCommand(f"Go to {step_title(step)}", f"Jump to the {step_title(step)} step", lambda s=step: self.goto(s))


def make_app(project_dir: str | Path | None = None, start_step: str | None = None, **kwargs) -> TunewizApp:
    """The one way to build the app: the CLI, the tests and the screenshot script all call this."""
    return TunewizApp(Project(project_dir), start_step=start_step, **kwargs)
