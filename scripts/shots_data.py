"""Screenshots of the Data step: the summary of a mixed-quality file with its errors, and the review mode."""

from __future__ import annotations

import shutil
from pathlib import Path

from core.project import Project
from tui.app import make_app

SIZE = (120, 40)
ROOT = Path(__file__).resolve().parents[1]
MESSY = ROOT / "examples" / "support-tickets" / "tickets-messy.jsonl"


async def _checked(app, pilot, path: Path) -> None:
    app.screen.query_one("#data-path").value = str(path)
    await pilot.click("#data-check")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def data_summary(out_dir: Path, work_dir: Path) -> None:
    data = work_dir / "tickets-messy.jsonl"
    shutil.copy(MESSY, data)
    Project(work_dir).save()
    app = make_app(work_dir, start_step="data")
    async with app.run_test(size=SIZE) as pilot:
        await _checked(app, pilot, data)
        app.screen.query_one("#data-issues").focus()
        await pilot.pause()
        app.save_screenshot(filename="data.svg", path=str(out_dir))


async def data_review(out_dir: Path, work_dir: Path) -> None:
    data = work_dir / "tickets.jsonl"
    shutil.copy(MESSY.with_name("tickets.jsonl"), data)
    Project(work_dir).save()
    app = make_app(work_dir, start_step="data")
    async with app.run_test(size=SIZE) as pilot:
        await _checked(app, pilot, data)
        app.screen.query_one("#data-tabs").active = "tab-review"
        await pilot.pause()
        panel = app.screen.query_one("#data-review")
        panel.focus()
        await pilot.press("g", "g", "b", "g")
        await pilot.pause()
        app.save_screenshot(filename="data-review.svg", path=str(out_dir))


SHOTS = {"data": data_summary, "data-review": data_review}
