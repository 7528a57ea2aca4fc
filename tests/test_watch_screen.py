"""The live training screen, fed by recorded run folders: what it shows and which commands it sends,
at 120x40 and 80x24."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from core.project import Project
from tests.fixtures import make_runs
from tests.fixtures.watching import append_events, control_commands, fully_visible, monitor_of, text_of, wait_until
from tui.watch_app import make_watch_app
from tui.widgets.run_monitor import CommandSent, Detached, RunMonitor

SIZES = [(120, 40), (80, 24)]


def oom_modal_laid_out(app) -> bool:
    """The OOM modal is up, its options mounted and laid out (a pushed screen has empty regions until then)."""
    from tui.screens.oom import OomScreen

    if not isinstance(app.screen, OomScreen):
        return False
    options = app.screen.query("#oom-options")
    return bool(options) and options.first().region.height > 0


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(RunMonitor, "poll_interval", 0.05)
    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.05)
    monkeypatch.setattr(RunMonitor, "liveness_interval", 0.1)


def runs_dir(project_dir):
    return Project(project_dir).runs_dir


async def shown(pilot, app, n: int = 1):
    await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).updates >= n, what="a snapshot")
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
async def test_healthy_finished_run_is_shown_and_ticks_the_checklist(project_dir, size):
    run = make_runs.healthy_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=size) as pilot:
        await shown(pilot, app)
        assert "finished" in text_of(app, "#run-head") and run.run_id in text_of(app, "#run-head")
        assert "step 120/120" in text_of(app, "#progress-text")
        notes = text_of(app, "#run-notes")
        assert "finished at step 120" in notes and "press e to evaluate" in notes
        assert "RTX 3090" in text_of(app, "#gpu-panel") and "17.4/24.0G" in text_of(app, "#gpu-panel")
        log = monitor_of(app).query_one("#log-tail")
        assert log.lines[-1].startswith("tunewiz: finished")
        for selector in ("#run-head", "#progress-text", "#loss-chart", "#gpu-panel", "#run-notes", "#log-tail",
                         "#spark-loss", "#spark-grad"):
            assert fully_visible(monitor_of(app).query_one(selector), size), selector
        assert len(monitor_of(app).query_one("#spark-loss").data) == 120
    state = Project(project_dir).state
    assert state.is_ticked("no_oom") and state.checklist["no_oom"].note.endswith("without OOM")
    assert state.is_ticked("loss_healthy")
    assert state.train["last_run"] == run.run_id and state.train["last_status"] == "finished"


@pytest.mark.parametrize("size", SIZES)
async def test_oom_modal_lists_ranked_options_and_sends_the_choice(project_dir, size):
    from tui.screens.oom import OomScreen

    run = make_runs.oom_waiting_run(runs_dir(project_dir), pid=os.getpid())
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: oom_modal_laid_out(app), what="the OOM modal")
        modal = app.screen
        options = modal.query_one("#oom-options")
        assert options.option_count == 6
        first = str(options.get_option_at_index(0).prompt)
        assert "Halve micro-batch" in first and "17.8 of 24.0 GB" in first and "fits" in first and "10% slower" in first
        assert "still too big" in str(options.get_option_at_index(5).prompt)  # 24.4 GB on a 24 GB card: ranked last
        assert "measured peak 23.7 GB" in str(modal.query_one("#oom-facts").render())
        assert fully_visible(modal.query_one("#oom-title"), size) and fully_visible(options, size)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, OomScreen)
        assert [(c["command"], c["option"]) for c in control_commands(run)] == [("oom_choice", "grad_checkpointing")]
        assert "sent 'grad_checkpointing'" in text_of(app, "#run-notes")
        # the trainer applies it and resumes: the screen follows the same run
        append_events(run, {"type": "recovered", "option": "grad_checkpointing", "changes": {"grad_checkpointing": "unsloth"},
                            "step": 30},
                      {"type": "step", "step": 31, "total_steps": 300, "loss": 1.5, "learning_rate": 1e-4, "grad_norm": 1.0})
        await wait_until(pilot, lambda: monitor_of(app).view.step == 31, what="the resumed step")
        await pilot.pause()
        notes = text_of(app, "#run-notes")
        assert "recovered from OOM" in notes and "Offloaded gradient checkpointing" in notes
        assert "running" in text_of(app, "#run-head")
        assert not isinstance(app.screen, OomScreen)


async def test_oom_modal_number_keys_escape_and_reopen(project_dir):
    from tui.screens.oom import OomScreen

    run = make_runs.oom_waiting_run(runs_dir(project_dir), pid=os.getpid())
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: oom_modal_laid_out(app), what="the OOM modal")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, OomScreen) and control_commands(run) == []
        assert "press o" in text_of(app, "#run-notes")
        await pilot.pause(0.3)  # later snapshots do not re-open it by themselves
        assert not isinstance(app.screen, OomScreen)
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, OomScreen)
        await pilot.press("4")
        await pilot.pause()
        assert [c["option"] for c in control_commands(run)] == ["shorter_seq"]


async def test_oom_modal_closes_when_answered_elsewhere(project_dir):
    from tui.screens.oom import OomScreen

    run = make_runs.oom_waiting_run(runs_dir(project_dir), pid=os.getpid())
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: oom_modal_laid_out(app), what="the OOM modal")
        append_events(run, {"type": "recovered", "option": "halve_batch", "changes": {"batch_size": 2}, "step": 30})
        await wait_until(pilot, lambda: not isinstance(app.screen, OomScreen), what="the modal to close")
        assert control_commands(run) == []


async def test_keys_send_pause_resume_save_and_stop_with_confirmation(project_dir):
    from tui.screens.stop_run import StopRunScreen

    run = make_runs.healthy_run(runs_dir(project_dir), upto=30, pid=os.getpid())
    sent = []
    app = make_watch_app(project_dir, run)

    def hook(message):  # a bubbling message reaches the hook once per node: count each once
        if isinstance(message, CommandSent) and all(message is not m for m in sent):
            sent.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await shown(pilot, app)
        assert "running" in text_of(app, "#run-head") and "ETA" in text_of(app, "#progress-text")
        await pilot.press("p")
        append_events(run, {"type": "paused", "step": 30})
        await wait_until(pilot, lambda: monitor_of(app).view.status == "paused", what="paused")
        await pilot.press("p", "s")
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, StopRunScreen)
        await pilot.press("n")
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert [c["command"] for c in control_commands(run)] == ["pause", "resume", "save", "stop"]
    assert [m.command for m in sent] == ["pause", "resume", "save", "stop"]


async def test_control_keys_refuse_on_a_finished_run(project_dir):
    run = make_runs.healthy_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        await pilot.press("p", "s", "x")
        await pilot.pause()
    assert control_commands(run) == []


async def test_log_scale_and_zoom_keys(project_dir):
    from tui.widgets.loss_chart import LossChart

    run = make_runs.healthy_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        chart = monitor_of(app).query_one(LossChart)
        assert chart.border_title == "Loss · linear · all steps"
        await pilot.press("l")
        assert chart.log_scale and chart.border_title == "Loss · log · all steps"
        await pilot.press("z", "z")
        assert chart.border_title == "Loss · log · last 200 steps"
        await pilot.press("l", "z", "z", "z")
        assert chart.border_title == "Loss · linear · last 1000 steps"


async def test_detach_quits_with_how_to_come_back_and_leaves_the_run_alone(project_dir):
    run = make_runs.healthy_run(runs_dir(project_dir), upto=30, pid=os.getpid())
    before = run.events.read_bytes()
    detached = []
    app = make_watch_app(project_dir, run, return_hint=f"tunewiz watch {run.run_id}")
    async with app.run_test(size=(80, 24), message_hook=lambda m: detached.append(m) if isinstance(m, Detached) else None) as pilot:
        await shown(pilot, app)
        await pilot.press("d")
        await pilot.pause()
    assert detached and "keeps training" in detached[0].how_to_return
    assert f"tunewiz watch {run.run_id}" in detached[0].how_to_return
    assert run.events.read_bytes() == before and control_commands(run) == []


@pytest.mark.parametrize("size", SIZES)
async def test_overfitting_alert_with_advice_and_no_healthy_tick(project_dir, size):
    run = make_runs.overfitting_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=size) as pilot:
        await shown(pilot, app)
        notes = text_of(app, "#run-notes")
        assert "overfitting at step 160" in notes and "try: stop and use the checkpoint from step 100" in notes
    state = Project(project_dir).state
    assert state.is_ticked("no_oom") and not state.is_ticked("loss_healthy")
    assert "unresolved alert: overfitting" in state.checklist["loss_healthy"].note


@pytest.mark.parametrize("size", SIZES)
async def test_failed_run_shows_error_and_hint(project_dir, size):
    run = make_runs.failed_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=size) as pilot:
        await shown(pilot, app)
        assert "failed" in text_of(app, "#run-head")
        notes = text_of(app, "#run-notes")
        assert "every label in the first batch is masked" in notes and "try: the chat template" in notes
        assert "no telemetry" in text_of(app, "#gpu-panel")
    state = Project(project_dir).state
    assert not state.is_ticked("no_oom") and state.train["last_status"] == "failed"


async def test_auto_recovery_is_explained_and_noted_on_the_checklist(project_dir):
    run = make_runs.oom_auto_run(runs_dir(project_dir))
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        notes = text_of(app, "#run-notes")
        assert "recovered from OOM: step 40: Halve micro-batch" in notes
        assert "because OOM at step 41 (eval), peak 23.9 GB, now predicted 17.8 GB" in notes
        assert "plan 17.8G" in text_of(app, "#gpu-panel")
    assert "recovered from OOM (1 time)" in Project(project_dir).state.checklist["no_oom"].note


async def test_cpu_run_shows_the_cpu_and_no_errors(project_dir):
    run = make_runs.healthy_run(runs_dir(project_dir), upto=5, pid=os.getpid())
    append_events(run, {"type": "gpu", "device": "cpu", "gpus": [], "peak_allocated_gb": None, "peak_reserved_gb": None,
                        "rss_gb": 1.3})
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(80, 24)) as pilot:
        await shown(pilot, app)
        panel = text_of(app, "#gpu-panel")
        assert "device cpu · no GPU in use" in panel and "(RSS) 1.3 GB" in panel and "cpu" in text_of(app, "#run-head")


async def test_log_tail_follows_only_while_at_the_bottom(project_dir):
    run = make_runs.healthy_run(runs_dir(project_dir), upto=60, pid=os.getpid())
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await shown(pilot, app)
        log = monitor_of(app).query_one("#log-tail")
        assert log.is_vertical_scroll_end
        with open(run.log, "a") as fh:
            fh.write("new line one\n")
        await wait_until(pilot, lambda: log.lines[-1] == "new line one", what="the new log line")
        await pilot.pause()
        assert log.is_vertical_scroll_end
        log.scroll_home(animate=False)
        await pilot.pause()
        with open(run.log, "a") as fh:
            fh.write("new line two\n")
        await wait_until(pilot, lambda: log.lines[-1] == "new line two", what="the second line")
        await pilot.pause()
        assert log.scroll_y == 0  # the reader stays where they scrolled


async def test_dead_trainer_is_reported_with_how_to_resume(project_dir):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run = make_runs.healthy_run(runs_dir(project_dir), upto=30, pid=proc.pid)
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).liveness == "dead", what="dead")
        await pilot.pause(0.2)
        assert "trainer not running" in text_of(app, "#run-head")
        assert f"tunewiz resume {run.run_id}" in text_of(app, "#run-notes")
        await pilot.press("p")
        await pilot.pause()
    assert control_commands(run) == []


async def test_updates_are_coalesced_while_events_stream(project_dir, monkeypatch):
    import threading
    import time

    from tui.widgets.run_monitor import RunRead

    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.25)
    run = make_runs.healthy_run(runs_dir(project_dir), upto=10, pid=os.getpid())
    reads = {}
    app = make_watch_app(project_dir, run)

    def writer():
        for step in range(11, 411):
            append_events(run, {"type": "step", "step": step, "total_steps": 500, "loss": 1.0, "learning_rate": 1e-4,
                                "grad_norm": 1.0})
            time.sleep(0.0025)

    async with app.run_test(size=(120, 40), message_hook=lambda m: reads.setdefault(id(m), (m, time.monotonic())) if isinstance(m, RunRead) else None) as pilot:
        await shown(pilot, app)
        start = time.monotonic()
        thread = threading.Thread(target=writer)
        thread.start()
        await wait_until(pilot, lambda: monitor_of(app).view.step == 410, what="all steps")
        elapsed = time.monotonic() - start
        thread.join()
    during = [t for _, t in reads.values() if t >= start]
    assert len(during) <= elapsed / 0.25 + 2, (len(during), elapsed)


async def test_evaluate_key_only_on_a_finished_run_and_help(project_dir):
    from tui.screens.help import HelpScreen
    from tui.widgets.run_monitor import EvaluateRequested

    running = make_runs.healthy_run(runs_dir(project_dir), "20260101-080000-run-live", upto=10, pid=os.getpid())
    finished = make_runs.healthy_run(runs_dir(project_dir))
    asked = []
    hook = lambda m: asked.append(m) if isinstance(m, EvaluateRequested) and m not in asked else None  # noqa: E731
    for run in (running, finished):
        app = make_watch_app(project_dir, run)
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await shown(pilot, app)
            await pilot.press("e")
            await pilot.pause()
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
    assert [m.run for m in asked] == [finished]
