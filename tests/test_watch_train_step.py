"""The wizard's Train step: starting a run (engine present or not), following the active run on
relaunch, and `tunewiz watch` on the command line."""

from __future__ import annotations

import os
import sys
import types

import pytest

from core.project import Project
from core.runs import RunDir
from core.watch import wizard_start_step
from tests.conftest import run_cli
from tests.fixtures import make_runs
from tests.fixtures.watching import monitor_of, text_of, wait_until
from tui.app import make_app
from tui.widgets.run_monitor import RunMonitor


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(RunMonitor, "poll_interval", 0.05)
    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.05)


async def test_start_shows_a_clear_message_without_the_engine(project_dir, monkeypatch):
    from tui.screens.train import ENGINE_MISSING, TrainScreen

    monkeypatch.setitem(sys.modules, "core.train.launch", None)  # as if the engine were not installed
    app = make_app(project_dir, start_step="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        summary = str(app.screen.query_one("#start-summary").render())
        assert "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit" in summary and "2 x 4 accumulation" in summary
        assert "train.jsonl is not in the project yet" in summary
        await pilot.press("t")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert ENGINE_MISSING[:60] in str(app.screen.query_one("#start-message").render())
        assert not app.screen.query_one("#start-run").disabled
    assert "active_run" not in Project(project_dir).state.train


async def test_start_launches_through_the_engine_and_follows_the_run(project_dir, monkeypatch):
    from tui.screens.train import TrainScreen

    calls = []

    def start_run(config, *, runs_dir, project_root=None, detach=True):
        calls.append((config.base_model, runs_dir, project_root, detach))
        return make_runs.healthy_run(runs_dir, upto=12, pid=os.getpid())

    fake = types.ModuleType("core.train.launch")
    fake.start_run = start_run
    package = sys.modules.get("core.train") or types.ModuleType("core.train")
    monkeypatch.setitem(sys.modules, "core.train", package)
    monkeypatch.setitem(sys.modules, "core.train.launch", fake)
    project = Project(project_dir)
    project.state.plan = {"estimate_gb": 19.5}
    project.save()
    app = make_app(project_dir, start_step="train")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.click("#start-run")
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).updates >= 1, what="the monitor")
        await pilot.pause()
        assert isinstance(app.screen, TrainScreen)
        assert "step 12/120" in text_of(app, "#progress-text")
        assert "plan 19.5G (plan estimate)" in text_of(app, "#gpu-panel")
        assert not app.screen.query_one("#sidebar").display  # narrow terminal: the run gets the width
    assert calls == [(project.state.config.base_model, project.runs_dir, project.root, True)]
    run_id = Project(project_dir).state.train["active_run"]
    assert RunDir(project.runs_dir / run_id).events.exists()
    assert wizard_start_step(project_dir) == "train"


async def test_relaunch_returns_to_the_active_run(project_dir):
    from tui.screens.train import TrainScreen

    project = Project(project_dir)
    run = make_runs.oom_waiting_run(project.runs_dir, pid=os.getpid())
    project.state.train = {"active_run": run.run_id}
    project.state.step = "decide"
    project.save()
    app = make_app(project_dir, start_step=wizard_start_step(project_dir))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).updates >= 1, what="the monitor")
        assert isinstance(app.screen_stack[1], TrainScreen)
        assert monitor_of(app).run == run
        assert app.screen_stack[1].query_one("#sidebar").display


async def test_finished_run_then_new_run_shows_the_start_panel(project_dir):
    project = Project(project_dir)
    run = make_runs.healthy_run(project.runs_dir)
    project.state.train = {"last_run": run.run_id}
    project.save()
    app = make_app(project_dir, start_step="train")
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).updates >= 1, what="the monitor")
        await pilot.press("n")
        await pilot.pause()
        assert monitor_of(app) is None and app.screen.query_one("#start-run")
    assert Project(project_dir).state.is_ticked("no_oom")


def test_watch_cli_help_and_errors(project_dir):
    result = run_cli("watch", "--help", cwd=project_dir)
    assert result.returncode == 0 and "--runs-dir" in result.stdout and "newest" in result.stdout
    result = run_cli("watch", cwd=project_dir)
    assert result.returncode == 2 and "no runs in" in result.stderr and "Traceback" not in result.stderr
    make_runs.healthy_run(project_dir / "runs")
    result = run_cli("watch", "nope", cwd=project_dir)
    assert result.returncode == 2 and "no run matches 'nope'" in result.stderr
    result = run_cli("watch", "heal", cwd=project_dir)  # found, but no terminal here
    assert result.returncode == 2 and "needs a terminal" in result.stderr and "20260101-090000-run-heal" in result.stderr
    other = project_dir / "elsewhere"
    make_runs.failed_run(other)
    result = run_cli("watch", "--runs-dir", str(other), cwd=project_dir)
    assert result.returncode == 2 and "20260101-130000-run-fail" in result.stderr
    assert not (project_dir / "tunewiz.yaml").exists()  # watching writes nothing to the project
