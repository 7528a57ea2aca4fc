"""Screenshots of the Plan step (wired into scripts/screenshots.py by the lead)."""

from __future__ import annotations

import pathlib

from core.project import Project


async def _plan(out_dir: pathlib.Path, work_dir: pathlib.Path, name: str, card: str, model: str, column: int) -> None:
    from textual.widgets import DataTable, Select

    from tui.app import make_app

    project_dir = work_dir / name
    project_dir.mkdir(parents=True, exist_ok=True)
    project = Project(project_dir)
    project.state.data["recommended_max_seq_length"] = 2048
    project.save()
    app = make_app(project_dir, start_step="plan")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.query_one("#knob-card", Select).value = card
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = screen.query_one("#plan-table", DataTable)
        table.cursor_coordinate = (screen._models.index(model), column)
        await pilot.pause()
        app.save_screenshot(filename=f"{name}.svg", path=str(out_dir))


async def plan_3090(out_dir: pathlib.Path, work_dir: pathlib.Path) -> None:
    """RTX 3090 target: Llama 3.1 8B QLoRA highlighted."""
    await _plan(out_dir, work_dir, "plan_3090", "3090", "meta-llama/Llama-3.1-8B", 4)


async def plan_does_not_fit(out_dir: pathlib.Path, work_dir: pathlib.Path) -> None:
    """RTX 3090 target: Qwen2.5 14B 16-bit LoRA does not fit; what fits instead."""
    await _plan(out_dir, work_dir, "plan_does_not_fit", "3090", "Qwen/Qwen2.5-14B", 3)


SHOTS = {"plan_3090": plan_3090, "plan_does_not_fit": plan_does_not_fit}
