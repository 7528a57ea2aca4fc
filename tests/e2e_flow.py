"""The whole wizard driven by keyboard, step by step: shared by the end-to-end pilot test and the flow
screenshot script. Each `do_<step>` presses the real keys of that step and waits (bounded) for the
step's work to finish; a `snap(name)` callback, when given, is called at the moments worth a picture."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Awaitable, Callable, Optional

from core.config import TrainConfig
from core.project import Project

Snap = Optional[Callable[[str], Awaitable[None]]]
# Answers that make fine-tuning the advice (a narrow JSON task with enough examples): question id -> choice index.
DECIDE_CHOICES = {
    "prompting_tried": 0, "few_shot_works": 1, "labeled_examples": 3, "task_scope": 0, "data_changes_often": 1,
    "need_consistent_format": 0, "need_cheaper_inference": 0, "domain_terminology": 1, "need_grounding": 1,
    "domain_text_tokens": 1,
}


def prepare_flow_project(folder: Path, model_dir: Path, *, examples: int = 64, max_steps: int = 12) -> Path:
    """A fresh project with a generated messages dataset (`chat.jsonl`) and CPU-sized settings on the tiny
    model; the decision and the data steps are left for the keyboard."""
    from core.toy import make_chat_examples, write_jsonl

    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "chat.jsonl", make_chat_examples(examples, seed=0))
    project = Project(folder)
    project.state.config = TrainConfig(
        base_model=str(model_dir), method="lora", bits=16, backend="hf", learning_rate=5e-3, epochs=1,
        max_steps=max_steps, batch_size=4, grad_accum=1, max_seq_length=128, lora_r=8, lora_alpha=16,
        optimizer="adamw_torch", grad_checkpointing="none", warmup_steps=1, eval_steps=max_steps // 2,
        save_steps=max_steps, on_oom="auto", seed=0,
    )
    project.save()
    return folder


async def wait_for(pilot, condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until `condition()` holds, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await pilot.pause(0.05)


async def tab_to(pilot, matches: Callable[[object], bool], *, key: str = "tab", limit: int = 25, what: str = "") -> None:
    """Press Tab (or `key`) until the focused widget `matches`; fails after `limit` presses."""
    app = pilot.app
    for _ in range(limit):
        if app.focused is not None and matches(app.focused):
            return
        await pilot.press(key)
    raise AssertionError(f"{key} never reached {what or matches}; focus is on {app.focused!r}")


async def press_until(pilot, key: str, condition: Callable[[], bool], *, limit: int = 25, what: str = "") -> None:
    """Press `key` until `condition()` holds; fails after `limit` presses."""
    for _ in range(limit):
        if condition():
            return
        await pilot.press(key)
    if not condition():
        raise AssertionError(f"{key} {limit} times never reached {what or condition}")


def by_id(widget_id: str) -> Callable[[object], bool]:
    return lambda w: getattr(w, "id", None) == widget_id


async def do_decide(pilot, snap: Snap = None) -> None:
    from textual.widgets import RadioSet

    app = pilot.app
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "decide", what="the Decide step")
    for qid, index in DECIDE_CHOICES.items():
        await tab_to(pilot, lambda w, q=qid: isinstance(w, RadioSet) and w.id == f"q-{q}", what=f"question {qid}")
        await pilot.press(*(["down"] * index), "enter")
    await pilot.pause()
    if snap:
        await snap("decide")
    await tab_to(pilot, by_id("continue"), what="the Continue button")
    await pilot.press("enter")
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "data", what="the Data step")


async def do_data(pilot, data_file: str, snap: Snap = None, review: int = 20) -> None:
    from textual.widgets import Input, TabbedContent, Tabs

    app = pilot.app
    state = app.project.state
    await tab_to(pilot, by_id("data-path"), what="the path field")
    path_input = app.screen.query_one("#data-path", Input)
    if path_input.value != data_file:
        await pilot.press("ctrl+a", "ctrl+k", *data_file)  # Home, delete to the end, type
        path_input = app.screen.query_one("#data-path", Input)
    assert path_input.value == data_file, path_input.value
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.screen.report is not None, timeout=60, what="the data check")
    await app.workers.wait_for_complete()
    await pilot.pause()
    if snap:
        await snap("data")
    # Review tab: mark a sample good so "Data quality verified" ticks.
    await tab_to(pilot, lambda w: isinstance(w, Tabs), what="the tabs")
    tabs = app.screen.query_one("#data-tabs", TabbedContent)
    await press_until(pilot, "right", lambda: tabs.active == "tab-review", limit=6, what="the Review tab")
    await tab_to(pilot, by_id("data-review"), what="the review panel")
    await pilot.press(*(["g"] * review))
    await wait_for(pilot, lambda: state.is_ticked("data_reviewed"), what="the review tick")
    if snap:
        await snap("data-review")
    # Split tab: the defaults (10% validation, seed 42), then the split button.
    await tab_to(pilot, lambda w: isinstance(w, Tabs), key="shift+tab", what="the tabs")
    await press_until(pilot, "right", lambda: tabs.active == "tab-split", limit=6, what="the Split tab")
    await tab_to(pilot, by_id("data-split"), what="the split button")
    await pilot.press("enter")
    await wait_for(pilot, lambda: state.is_ticked("split_created"), timeout=60, what="the split")
    await pilot.pause()
    if snap:
        await snap("data-split")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "plan", what="the Plan step")


async def do_plan(pilot, snap: Snap = None, seq: int | None = None) -> tuple[str, str]:
    """Optionally set the Seq knob to `seq` (the shortest choice), then pick the project's own model (a local
    folder, listed first) with LoRA from the table. Returns the (model, method) highlighted on arrival."""
    from textual.widgets import DataTable

    app = pilot.app
    screen = app.screen
    model = app.project.state.config.base_model
    await wait_for(pilot, lambda: model in screen._models, timeout=30, what="the plan table with the project's model")
    first = screen._selected()
    highlighted = (first.arch.id, first.estimate.setup.method)
    if seq is not None:  # the Seq knob: open it, go to the top (shortest), pick
        from textual.widgets import Select

        knob = screen.query_one("#knob-seq", Select)
        await tab_to(pilot, by_id("knob-seq"), what="the Seq knob")
        await pilot.press("enter")
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: knob.value == seq, what=f"Seq {seq}")
        await wait_for(pilot, lambda: screen._selected() is not None and screen._selected().estimate.setup.seq_len == seq,
                       what="the estimates at the new length")
    await tab_to(pilot, by_id("plan-table"), what="the plan table")
    table = screen.query_one("#plan-table", DataTable)
    row = screen._models.index(model)
    await press_until(pilot, "up", lambda: table.cursor_coordinate.row <= row, what="the model's row")
    await press_until(pilot, "down", lambda: table.cursor_coordinate.row >= row, what="the model's row")
    await press_until(pilot, "left", lambda: table.cursor_coordinate.column <= 3, what="the LoRA column")
    await pilot.press("u")
    await wait_for(pilot, lambda: app.project.state.is_ticked("model_selected"), what="the model pick")
    await pilot.pause()
    if snap:
        await snap("plan")
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "train", what="the Train step")
    return highlighted


async def do_train(pilot, snap: Snap = None, timeout: float = 300) -> None:
    """Start a real run through the engine with the Start button and follow it until it finishes."""
    from tests.fixtures.watching import monitor_of

    app = pilot.app
    await pilot.pause()
    if snap:
        await snap("train-start")
    await tab_to(pilot, by_id("start-run"), what="the Start training button")
    await pilot.press("enter")
    await wait_for(pilot, lambda: monitor_of(app) is not None, timeout=60, what="the run monitor")
    monitor = monitor_of(app)
    await wait_for(pilot, lambda: monitor.view is not None and monitor.view.step >= 3, timeout=timeout,
                   what="training steps")
    if snap:
        await snap("train-running")
    await wait_for(pilot, lambda: monitor.view is not None and not monitor.view.is_active, timeout=timeout,
                   what="the run to end")
    await wait_for(pilot, lambda: app.project.state.train.get("last_status") is not None, what="the outcome in the project")
    await pilot.pause()
    if snap:
        await snap("train-finished")


async def do_evaluate(pilot, n: int = 4, snap: Snap = None, timeout: float = 300) -> None:
    """From the finished run, e opens Evaluate; set N, then e evaluates base against tuned."""
    from textual.widgets import Input

    app = pilot.app
    await pilot.press("e")
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "evaluate", what="the Evaluate step")
    screen = app.screen
    await tab_to(pilot, by_id("eval-n"), key="shift+tab", what="the N field")
    await pilot.press("ctrl+a", "ctrl+k", *str(n))
    assert screen.query_one("#eval-n", Input).value == str(n)
    await tab_to(pilot, by_id("eval-samples"), what="the samples table")
    await pilot.press("e")
    await wait_for(pilot, lambda: app.project.state.is_ticked("evaluated"), timeout=timeout, what="the evaluation")
    await pilot.pause()
    if snap:
        await snap("evaluate")


async def do_export(pilot, quant: str = "f16", snap: Snap = None, timeout: float = 300) -> None:
    """Ctrl+N past Evaluate to Export; GGUF is the first format, pick the type, x exports."""
    app = pilot.app
    await pilot.press("ctrl+n")
    await wait_for(pilot, lambda: getattr(app.screen, "step_id", "") == "export", what="the Export step")
    screen = app.screen
    await pilot.pause()
    assert screen.selected()[0] == "gguf"
    await tab_to(pilot, by_id("export-quant"), what="the GGUF type list")
    await press_until(pilot, "down", lambda: screen.selected()[1] == quant, limit=6, what=f"GGUF type {quant}")
    await pilot.press("x")
    await wait_for(pilot, lambda: app.project.state.is_ticked("exported"), timeout=timeout, what="the export")
    await pilot.pause()
    if snap:
        await snap("export")
