"""What a screen hosting a RunMonitor does with its messages: the wizard's Train step and the
standalone `tunewiz watch` screen both mix this in."""

from __future__ import annotations

from core.runs import RunDir
from core.watch import record_run_outcome
from tui.widgets.run_monitor import Detached, EvaluateRequested, RunEnded


def run_belongs_to(run: RunDir, project) -> bool:
    """Only runs of this project update its state and checklist (a `watch --runs-dir` elsewhere does not)."""
    try:
        return run.path.resolve().is_relative_to(project.runs_dir.resolve()) or \
            project.state.train.get("active_run") in (run.run_id, str(run.path))
    except OSError:
        return False


class RunMonitorHost:
    """Message handlers for a Screen that contains a RunMonitor."""

    def on_run_ended(self, message: RunEnded) -> None:
        project = self.app.project
        if run_belongs_to(message.run, project) and record_run_outcome(project.state, message.run, message.view):
            self.app.save_project()

    def on_detached(self, message: Detached) -> None:
        self.app.exit(message=message.how_to_return)

    def on_evaluate_requested(self, message: EvaluateRequested) -> None:
        from tui.steps import step_ids

        if "evaluate" in step_ids():
            self.app.goto("evaluate")
        else:
            self.notify(f"The Evaluate step is not in this build; the output is at {message.view.output}.")
