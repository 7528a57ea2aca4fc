"""The app `tunewiz watch` runs: the wizard app opened straight on one run's live screen."""

from __future__ import annotations

from pathlib import Path

from core.project import Project
from core.runs import RunDir
from tui.app import TunewizApp


class WatchApp(TunewizApp):
    def __init__(self, project: Project, run: RunDir, *, return_hint: str | None = None, **kwargs):
        super().__init__(project, **kwargs)
        self.run_to_watch = run
        self.return_hint = return_hint

    def on_mount(self, event) -> None:
        from tui.screens.watch import WatchScreen

        event.prevent_default()  # not the wizard's own start-up (which opens the saved step)

        self.push_screen(WatchScreen(self.run_to_watch, return_hint=self.return_hint))


def make_watch_app(project_dir: str | Path | None, run: RunDir, *, return_hint: str | None = None, **kwargs) -> WatchApp:
    """Shared by `tunewiz watch`, the tests and the screenshots."""
    return WatchApp(Project(project_dir), run, return_hint=return_hint, **kwargs)
