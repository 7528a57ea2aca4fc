"""The Evaluate and Export steps, driven by keyboard with Textual's pilot on a real tiny-model run."""

import json
import shutil

import pytest

from core.project import Project
from tui.app import make_app


@pytest.fixture
def project_with_run(project_dir, finished_run_template):
    shutil.copytree(finished_run_template.parent, project_dir / "runs")
    project = Project(project_dir)
    project.state.train["active_run"] = finished_run_template.name
    project.save()
    return project_dir


async def test_evaluate_step_runs_eval_and_blind_ab(project_with_run):
    run_dir = project_with_run / "runs" / "20250101-000000-run-test"
    app = make_app(project_with_run, start_step="evaluate")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert screen.step_id == "evaluate" and screen.run_dir.path == run_dir
        assert str(screen.query_one("#eval-run").render()).endswith("press e to evaluate")
        screen.query_one("#eval-n").value = "3"
        await pilot.press("e")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        result = json.loads((run_dir / "eval.json").read_text())
        assert result["n"] == 3
        numbers = screen.query_one("#eval-numbers")
        assert numbers.row_count >= 4  # loss, perplexity and the task metrics
        assert screen.query_one("#eval-samples").row_count == 3
        assert Project(project_with_run).state.is_ticked("evaluated")
        assert "evaluated · press e to evaluate again" in str(screen.query_one("#eval-run").render())

        await pilot.press("a")  # rating keys do nothing outside A/B mode
        assert screen.session.tally()["rated"] == 0
        await pilot.press("v")
        assert screen.query_one("#eval-ab").display
        await pilot.press("a", "t", "s")
        tally = json.loads((run_dir / "eval.json").read_text())["ab"]["tally"]
        assert tally["rated"] == 3 and tally["tie"] == 1 and tally["skip"] == 1 and tally["tuned"] + tally["base"] == 1
        await pilot.press("u")
        assert json.loads((run_dir / "eval.json").read_text())["ab"]["tally"]["rated"] == 2
        await pilot.press("v")
        assert screen.query_one("#eval-sxs").display


async def test_export_step_exports_gguf_by_keyboard(project_with_run):
    run_dir = project_with_run / "runs" / "20250101-000000-run-test"
    app = make_app(project_with_run, start_step="export")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        await pilot.pause()
        assert screen.selected() == ("gguf", "q8_0", True)
        assert str(screen.query_one("#export-run").render()).endswith("press x to export")
        await pilot.press("tab", "down", "down")  # GGUF type list: q8_0 -> f16 -> q4_0
        assert screen.selected() == ("gguf", "q4_0", True)
        await pilot.press("x")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (run_dir / "export" / "gguf" / f"{run_dir.name}-q4_0.gguf").exists()
        assert (run_dir / "export" / "gguf" / "Modelfile").exists()
        assert "verified" in str(screen.query_one("#export-result").render())
        assert Project(project_with_run).state.is_ticked("exported")
        assert "exported · x for another export" in str(screen.query_one("#export-run").render())


async def test_steps_without_a_run_say_so(project_dir):
    app = make_app(project_dir, start_step="evaluate")
    async with app.run_test(size=(120, 40)) as pilot:
        assert "No finished run" in str(app.screen.query_one("#eval-run").render())
        await pilot.press("e")
        await pilot.pause()
        assert not (project_dir / "runs").exists()
