"""The Plan step: table coloured by verdict, live knobs, picking writes config + plan and ticks."""

from textual.widgets import DataTable, Select, Static

from core.project import Project
from tui.app import make_app


async def _ready(pilot, app):
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_plan_table_and_pick(project_dir):
    project = Project(project_dir)
    project.state.config.gpu = "3090"
    project.state.data["recommended_max_seq_length"] = 1024
    project.save()
    app = make_app(project_dir, start_step="plan")
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#knob-card", Select).value = "3090"
        await _ready(pilot, app)
        table = screen.query_one("#plan-table", DataTable)
        assert table.row_count >= 15
        assert screen.query_one("#knob-seq", Select).value == 1024  # from the Data step
        panel = str(screen.query_one("#gpu-panel", Static).render())
        assert "24 GB" in panel
        # move to Llama 3.1 8B, QLoRA column
        row = screen._models.index("meta-llama/Llama-3.1-8B")
        table.cursor_coordinate = (row, 4)
        await pilot.pause()
        bar = str(screen.query_one("#plan-bar", Static).render())
        assert "Llama-3.1-8B" in bar and "logits" in bar and "/ 24 GB" in bar
        before = screen._selected().estimate.total_gb
        screen.query_one("#knob-batch", Select).value = 8
        await _ready(pilot, app)
        table.cursor_coordinate = (row, 4)
        await pilot.pause()
        assert screen._selected().estimate.total_gb > before  # knobs re-estimate live
        await pilot.press("u")
        await pilot.pause()
    saved = Project(project_dir).state
    assert saved.config.method == "qlora" and saved.config.bits == 4 and saved.config.batch_size == 8
    assert saved.config.base_model in ("meta-llama/Llama-3.1-8B", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit")
    assert saved.config.max_seq_length == 1024
    assert saved.plan["estimate"]["verdict"] in ("comfortable", "tight")
    assert saved.plan["card"]["memory_gb"] == 24.0
    assert saved.is_ticked("model_selected") and saved.is_ticked("vram_calculated")


async def test_pick_that_does_not_fit_does_not_tick_vram(project_dir):
    app = make_app(project_dir, start_step="plan")
    async with app.run_test(size=(140, 45)) as pilot:
        screen = app.screen
        screen.query_one("#knob-card", Select).value = "3060"
        await _ready(pilot, app)
        table = screen.query_one("#plan-table", DataTable)
        table.cursor_coordinate = (screen._models.index("meta-llama/Llama-3.1-70B"), 2)
        await pilot.pause()
        fits = str(screen.query_one("#plan-fits", Static).render())
        assert "smaller model" in fits
        await pilot.press("u")
        await pilot.pause()
    saved = Project(project_dir).state
    assert saved.is_ticked("model_selected") and not saved.is_ticked("vram_calculated")
    assert saved.config.method == "full"
