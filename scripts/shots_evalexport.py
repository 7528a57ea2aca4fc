"""Screenshots of the Evaluate and Export steps on a real (tiny, CPU-trained) run."""

from __future__ import annotations

import shutil
from pathlib import Path

_CACHE: dict[str, Path] = {}


def _project_with_run(work_dir: Path) -> Path:
    """A project whose runs/ holds a finished LoRA run of the tiny model (trained once per process)."""
    from core.project import Project
    from core.toy import build_tiny_model
    from tests.conftest import make_finished_run

    if "runs" not in _CACHE:
        cache = work_dir.parent / "tunewiz-shots-evalexport"
        if not (cache / "runs").exists():
            model = build_tiny_model(cache / "tiny-llama")
            make_finished_run(cache / "runs", model)
        _CACHE["runs"] = cache / "runs"
    project_dir = work_dir / "project"
    shutil.copytree(_CACHE["runs"], project_dir / "runs")
    project = Project(project_dir)
    project.state.train["active_run"] = "20250101-000000-run-test"
    project.save()
    return project_dir


async def _evaluated(out_dir: Path, work_dir: Path, name: str, ab: bool) -> None:
    from tui.app import make_app

    app = make_app(_project_with_run(work_dir), start_step="evaluate")
    async with app.run_test(size=(120, 40)) as pilot:
        app.screen.query_one("#eval-n").value = "8"
        await pilot.press("e")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        if ab:
            await pilot.press("v", "a", "b", "t")
        else:
            await pilot.press("down", "down")
        await pilot.pause()
        app.save_screenshot(filename=f"{name}.svg", path=str(out_dir))


async def shot_evaluate(out_dir: Path, work_dir: Path) -> None:
    await _evaluated(out_dir, work_dir, "evaluate", ab=False)


async def shot_evaluate_ab(out_dir: Path, work_dir: Path) -> None:
    await _evaluated(out_dir, work_dir, "evaluate_ab", ab=True)


async def shot_export(out_dir: Path, work_dir: Path) -> None:
    from tui.app import make_app

    app = make_app(_project_with_run(work_dir), start_step="export")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename="export.svg", path=str(out_dir))


SHOTS = {"evaluate": shot_evaluate, "evaluate_ab": shot_evaluate_ab, "export": shot_export}
