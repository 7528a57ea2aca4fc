"""The Data step driven with Pilot: check (same findings as the CLI), problem details, review marks, split."""

from __future__ import annotations

import json

from textual.widgets import DataTable, Input, TabbedContent

from core.data import check_dataset
from core.project import Project
from tests.test_data_cli import mixed_quality_file
from tui.app import make_app
from tui.widgets.data_review import ReviewPanel


async def check_in_app(app, pilot, path) -> None:
    app.screen.query_one("#data-path", Input).value = str(path)
    await pilot.click("#data-check")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_check_shows_the_same_findings_as_the_cli(project_dir, chat_examples):
    path = mixed_quality_file(project_dir / "mixed.jsonl", chat_examples)
    app = make_app(project_dir, start_step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await check_in_app(app, pilot, path)
        screen = app.screen
        table = screen.query_one("#data-issues", DataTable)
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        report = check_dataset(path, max_seq_len=app.project.state.config.max_seq_length)
        assert [(r[0], r[2]) for r in rows] == [("" if i.line is None else str(i.line), i.code)
                                            for i in report.errors + report.warnings]
        assert str(screen.query_one("#card-errors-value").content) == "2"
        # Enter on the first row shows the raw line and the fix
        table.focus()
        table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "IssueDetailScreen"
        raw = str(app.screen.query_one("#issue-raw").content)
        assert '"role": "assistant", "content": "x"]' in raw
        await pilot.press("escape")
        await pilot.pause()
    state = Project(project_dir).state
    assert state.data["errors"] == 2 and state.data["examples"] == report.examples
    assert not state.is_ticked("data_formatted")


async def test_review_marks_tick_and_split(project_dir, chat_examples):
    data = project_dir / "data.jsonl"
    data.write_text("\n".join(json.dumps(e) for e in chat_examples) + "\n")
    app = make_app(project_dir, start_step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await check_in_app(app, pilot, data)
        assert app.project.state.is_ticked("data_formatted")
        app.screen.query_one("#data-tabs", TabbedContent).active = "tab-review"
        await pilot.pause()
        panel = app.screen.query_one(ReviewPanel)
        panel.focus()
        first_line = panel.current.line
        await pilot.press("b")
        for _ in range(19):
            await pilot.press("g")
        await pilot.pause()
        assert app.project.state.is_ticked("data_reviewed")
        app.screen.query_one("#data-tabs", TabbedContent).active = "tab-split"
        await pilot.pause()
        app.screen.query_one("#split-exclude-bad").value = True
        await pilot.click("#data-split")
        await app.workers.wait_for_complete()
        await pilot.pause()
    marks = json.loads((project_dir / "data.review.json").read_text())["marks"]
    assert marks[str(first_line)]["mark"] == "bad" and len(marks) == 20
    state = Project(project_dir).state
    assert state.is_ticked("split_created") and state.is_ticked("data_reviewed")
    assert state.data["train_examples"] + state.data["val_examples"] == 63
    val_lines = (project_dir / "val.jsonl").read_text().splitlines()
    assert len(val_lines) == state.data["val_examples"] == 6


async def test_a_clean_file_says_no_problems_and_enter_does_nothing(project_dir):
    from core.toy import write_jsonl

    path = write_jsonl(project_dir / "clean.jsonl", [
        {"messages": [{"role": "user", "content": f"Question number {i} about topic {i * 7}?"},
                      {"role": "assistant", "content": f"Answer {i}: it depends on {i * 3}."}]} for i in range(120)])
    app = make_app(project_dir, start_step="data")
    async with app.run_test(size=(120, 40)) as pilot:
        await check_in_app(app, pilot, path)
        report = check_dataset(path, max_seq_len=app.project.state.config.max_seq_length)
        table = app.screen.query_one("#data-issues", DataTable)
        if report.errors or report.warnings:  # the generated file must be clean for this test to mean anything
            raise AssertionError([i.code for i in report.errors + report.warnings])
        assert table.row_count == 1 and "No problems found in 120 examples" in str(table.get_row_at(0)[4])
        table.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "DataScreen"
