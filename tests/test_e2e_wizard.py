"""End to end: the whole wizard by keyboard on the tiny model, Decide to an exported GGUF that reloads.
The key presses live in `tests/e2e_flow.py` (the flow screenshot script replays the same flow)."""

from __future__ import annotations

import json

import pytest

from core.checklist import CHECKLIST_IDS
from core.project import Project
from tests.e2e_flow import do_data, do_decide, do_evaluate, do_export, do_plan, do_train, prepare_flow_project
from tui.app import make_app
from tui.widgets.run_monitor import RunMonitor


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(RunMonitor, "poll_interval", 0.1)
    monkeypatch.setattr(RunMonitor, "min_update_interval", 0.1)


def sidebar_ticks(app) -> set[str]:
    """Checklist items the sidebar shows as done (what the person sees, not just the state)."""
    from core.checklist import CHECKLIST

    text = str(app.screen.query_one("#sidebar").render())
    return {item.id for item in CHECKLIST if f"[x] {item.label}" in text}


async def test_whole_wizard_by_keyboard(project_dir, tiny_model_dir):
    prepare_flow_project(project_dir, tiny_model_dir, max_steps=12)
    app = make_app(project_dir)
    saved = lambda: Project(project_dir).state  # what the project file records
    async with app.run_test(size=(120, 40)) as pilot:
        await do_decide(pilot)
        assert saved().decide.recommendation == "fine_tuning" and not saved().decide.proceed_against_advice
        assert saved().step == "data" and saved().is_ticked("prompting_tried")

        await do_data(pilot, "chat.jsonl")
        state = saved()
        assert state.step == "plan" and state.data["examples"] == 64 and state.data["errors"] == 0
        assert all(state.is_ticked(i) for i in ("data_formatted", "data_reviewed", "split_created"))
        assert state.data["train_examples"] + state.data["val_examples"] == 64
        assert (project_dir / "train.jsonl").exists() and (project_dir / "val.jsonl").exists()

        highlighted = await do_plan(pilot, seq=128)
        assert highlighted == (str(tiny_model_dir), "lora")  # the configured model and method, ready for Enter
        state = saved()
        assert state.step == "train" and state.is_ticked("model_selected") and state.is_ticked("vram_calculated")
        c = state.config
        assert (c.base_model, c.method, c.backend, c.optimizer) == (str(tiny_model_dir), "lora", "hf", "adamw_torch")
        assert c.max_seq_length == 128 and c.max_steps == 12

        await do_train(pilot)
        state = saved()
        run_id = state.train["last_run"]
        assert state.train["last_status"] == "finished" and "active_run" not in state.train
        assert state.is_ticked("no_oom") and state.is_ticked("loss_healthy")
        run_dir = project_dir / "runs" / run_id
        assert (run_dir / "adapter" / "adapter_config.json").exists()
        events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
        assert [e["step"] for e in events if e["type"] == "step"][-1] == 12

        await do_evaluate(pilot, n=4)
        state = saved()
        assert state.step == "evaluate" and state.evaluate["run_id"] == run_id
        result = json.loads((run_dir / "eval.json").read_text())
        assert result["n"] == 4 and set(result["metrics"]) == {"base", "tuned"}
        numbers = app.screen.query_one("#eval-numbers")
        first = [str(cell) for cell in numbers.get_row_at(0)]
        assert first[0] == "Validation loss" and first[1] == f"{result['loss']['base']['loss']:.4f}"
        assert first[2] == f"{result['loss']['tuned']['loss']:.4f}"
        assert result["loss"]["tuned"]["loss"] < result["loss"]["base"]["loss"]  # 12 steps do teach the tiny model

        await do_export(pilot, quant="f16")
        state = saved()
        assert state.step == "export" and state.export["format"] == "gguf"
        gguf = project_dir / "runs" / run_id / "export" / "gguf" / f"{run_id}-f16.gguf"
        assert state.export["last"] == str(gguf) and gguf.exists()
        assert "verified" in str(app.screen.query_one("#export-result").render())
        assert sidebar_ticks(app) == set(CHECKLIST_IDS)
    assert all(Project(project_dir).state.is_ticked(i) for i in CHECKLIST_IDS)

    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape[:2] == (1, 4) and torch.isfinite(logits).all()


def test_monitor_says_what_the_trainer_does_between_steps():
    """On a CPU the first load and each validation pass take minutes without a step event: the progress
    line says so instead of looking hung."""
    from core.events import RunView
    from tui.widgets.run_monitor import _between_steps

    view = RunView()
    view.apply({"type": "run_started", "config": {"eval_steps": 10, "val_file": "val.jsonl"}})
    assert _between_steps(view) == "loading the model…"
    view.apply({"type": "model_loaded", "device": "cpu"})
    assert _between_steps(view) == "first step…"
    view.apply({"type": "step", "step": 9, "total_steps": 20, "loss": 1.0})
    assert _between_steps(view) is None
    view.apply({"type": "step", "step": 10, "total_steps": 20, "loss": 0.9})
    assert _between_steps(view) == "evaluating on the validation split…"
    view.apply({"type": "eval", "step": 10, "eval_loss": 0.8})
    assert _between_steps(view) is None
    view.apply({"type": "step", "step": 20, "total_steps": 20, "loss": 0.5})
    view.apply({"type": "finished", "step": 20})
    assert _between_steps(view) is None


async def test_narrow_terminal_gives_the_step_the_width(project_dir):
    """At 80x24 the sidebar hides so a step's controls fit (Export's format list was cut off); at 120 it shows."""
    app = make_app(project_dir, start_step="export")
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert not app.screen.query_one("#sidebar").display
        formats = app.screen.query_one("#export-format")
        assert formats.region.width >= 36  # "GGUF (llama.cpp, Ollama, LM Studio)" on one line
    app = make_app(project_dir, start_step="export")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.query_one("#sidebar").display
