"""End to end: a real tiny-model run started through the engine in its own process; attach, see steps
arrive, detach (the run keeps going), re-attach, see it finish."""

from __future__ import annotations

import importlib.util
import time

import pytest

from core.config import TrainConfig
from core.project import Project
from core.runs import pid_alive
from tests.fixtures.watching import monitor_of, wait_until
from tui.watch_app import make_watch_app
from tui.widgets.run_monitor import Detached, RunMonitor


def _engine_present() -> bool:
    try:
        return importlib.util.find_spec("core.train.launch") is not None
    except ModuleNotFoundError:  # core.train itself is missing
        return False


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not _engine_present(), reason="training engine not merged yet"),
]


async def test_attach_detach_reattach_a_real_run(project_dir, tiny_model_dir, chat_examples, monkeypatch):
    from core.toy import write_jsonl
    from core.train.launch import start_run

    monkeypatch.setattr(RunMonitor, "poll_interval", 0.05)
    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.05)
    write_jsonl(project_dir / "train.jsonl", chat_examples[:56])
    write_jsonl(project_dir / "val.jsonl", chat_examples[56:])
    config = TrainConfig(
        base_model=str(tiny_model_dir), method="lora", bits=32, backend="hf", optimizer="adamw_torch",
        grad_checkpointing="none", max_steps=40, batch_size=2, grad_accum=1, max_seq_length=128, learning_rate=1e-3,
        warmup_steps=0, eval_steps=10, save_steps=10, logging_steps=1, on_oom="stop",
    )
    project = Project(project_dir)
    project.state.config = config
    project.save()
    run = start_run(config, runs_dir=project.runs_dir, project_root=project.root, detach=True)

    detached = []
    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40), message_hook=lambda m: detached.append(m) if isinstance(m, Detached) else None) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).view.step >= 1,
                         timeout=240, what="the first steps")
        first_step = monitor_of(app).view.step
        await pilot.press("d")
        await pilot.pause()
    assert detached and "keeps training" in detached[0].how_to_return

    # the watcher is gone; the trainer is not
    deadline = time.monotonic() + 240
    while run.view().step <= first_step and run.view().is_active and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.view().step > first_step or run.view().status == "finished"
    pid = run.read_state().get("pid")
    assert pid is None or pid_alive(pid) or run.view().status == "finished"

    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).view.status == "finished",
                         timeout=300, what="the run to finish")
        await pilot.pause(0.2)
        assert monitor_of(app).view.step == 40
    state = Project(project_dir).state
    assert state.is_ticked("no_oom") and state.train["last_status"] == "finished"


async def test_oom_modal_answers_a_real_run_waiting_after_an_injected_oom(project_dir, tiny_model_dir, chat_examples,
                                                                         monkeypatch):
    """A real trainer hits an (injected) OOM in `ask` mode and waits; the watcher's modal lists the
    engine's options, Enter applies the first, and the run resumes and finishes with a continuous step count."""
    from core.events import read_events
    from core.toy import write_jsonl
    from core.train.launch import start_run
    from tui.screens.oom import OomScreen

    monkeypatch.setattr(RunMonitor, "poll_interval", 0.05)
    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.05)
    monkeypatch.setenv("TUNEWIZ_FAULT_OOM", "train:4")
    write_jsonl(project_dir / "train.jsonl", chat_examples[:40])
    write_jsonl(project_dir / "val.jsonl", chat_examples[40:48])
    config = TrainConfig(
        base_model=str(tiny_model_dir), method="lora", bits=32, backend="hf", optimizer="adamw_torch",
        grad_checkpointing="none", max_steps=10, batch_size=2, grad_accum=1, max_seq_length=128, learning_rate=1e-3,
        warmup_steps=0, eval_steps=5, save_steps=2, logging_steps=1, on_oom="ask",
    )
    project = Project(project_dir)
    project.state.config = config
    project.save()
    run = start_run(config, runs_dir=project.runs_dir, project_root=project.root, detach=True)

    app = make_watch_app(project_dir, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, OomScreen) and bool(app.screen.query("#oom-options")),
                         timeout=240, what="the OOM modal for the waiting run")
        waiting = monitor_of(app).view.pending_oom
        assert waiting["step"] >= 3 and waiting["options"]
        first_option = str(app.screen.options[0]["id"])
        await pilot.press("enter")
        await wait_until(pilot, lambda: monitor_of(app).view.status == "finished", timeout=300, what="the resumed run")
        await pilot.pause(0.2)
    events = read_events(run.events)
    recovered = [e for e in events if e["type"] == "recovered"]
    assert [e["option"] for e in recovered] == [first_option]
    steps = sorted({e["step"] for e in events if e["type"] == "step"})
    assert steps == list(range(1, 11)), steps
    state = Project(project_dir).state
    assert state.is_ticked("no_oom") and "recovered from OOM" in state.checklist["no_oom"].note
