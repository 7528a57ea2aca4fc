"""Screenshots of the Decide step."""

from __future__ import annotations

from pathlib import Path

from core.project import Project
from tui.app import make_app

SIZE = (120, 40)


async def decide(out_dir: Path, work_dir: Path) -> None:
    project = Project(work_dir)
    project.state.decide.answers = {
        "prompting_tried": "yes", "few_shot_works": "no", "labeled_examples": "500_2000", "task_scope": "narrow",
        "data_changes_often": "no", "need_consistent_format": "yes", "need_cheaper_inference": "yes",
    }
    project.state.tick("prompting_tried", "you tried prompting first")
    project.save()
    app = make_app(work_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("tab", "tab", "tab")
        await pilot.pause()
        app.save_screenshot(filename="decide.svg", path=str(out_dir))


async def decide_against_advice(out_dir: Path, work_dir: Path) -> None:
    project = Project(work_dir)
    project.state.decide.answers = {
        "prompting_tried": "yes", "few_shot_works": "yes", "need_cheaper_inference": "yes",
        "labeled_examples": "under_100", "need_grounding": "yes", "data_changes_often": "yes",
    }
    project.save()
    app = make_app(work_dir)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.save_screenshot(filename="decide-rag.svg", path=str(out_dir))


SHOTS = {"decide": decide, "decide-rag": decide_against_advice}
