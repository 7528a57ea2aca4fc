"""Screenshots of the live training screen, from recorded runs (tests/fixtures/make_runs.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from core.project import Project
from tests.fixtures import make_runs
from tui.app import make_app
from tui.widgets.run_monitor import RunMonitor

SIZE = (120, 40)


def _project_with(work_dir: Path, make_run, **state) -> Path:
    project = Project(work_dir)
    run = make_run(project.runs_dir)
    project.state.train = {key: run.run_id for key in state.get("keys", ("active_run",))}
    project.state.plan = {"estimate_gb": 18.9}
    project.state.step = "train"
    project.save()
    return work_dir


async def _settle(app, pilot, modal: str | None = None) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        await pilot.pause(0.1)
        monitors = [m for s in app.screen_stack for m in s.query(RunMonitor)]
        if monitors and monitors[0].updates and (modal is None or type(app.screen).__name__ == modal):
            break
    await pilot.pause(0.3)


async def shot_running(out_dir: Path, work_dir: Path) -> None:
    project = _project_with(work_dir, lambda d: make_runs.healthy_run(d, steps=300, upto=137, pid=os.getpid()))
    app = make_app(project, start_step="train")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        app.save_screenshot(filename="train-running.svg", path=str(out_dir))


async def shot_oom(out_dir: Path, work_dir: Path) -> None:
    project = _project_with(work_dir, lambda d: make_runs.oom_waiting_run(d, pid=os.getpid()))
    app = make_app(project, start_step="train")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot, modal="OomScreen")
        app.save_screenshot(filename="train-oom.svg", path=str(out_dir))


async def shot_finished(out_dir: Path, work_dir: Path) -> None:
    project = _project_with(work_dir, make_runs.overfitting_run, keys=("last_run",))
    app = make_app(project, start_step="train")
    async with app.run_test(size=SIZE) as pilot:
        await _settle(app, pilot)
        app.save_screenshot(filename="train-finished.svg", path=str(out_dir))


SHOTS = {"train-running": shot_running, "train-oom": shot_oom, "train-finished": shot_finished}
