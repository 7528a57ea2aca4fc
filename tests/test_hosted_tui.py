"""The Hosted step: checks with line numbers, the estimate, the confirm modal, a job against the fake API
server followed to the model id, and the key neither saved nor drawn."""

from __future__ import annotations

import json

import pytest

from core.hosted.fake import FakeProviderServer
from core.project import Project
from tui.app import make_app

KEY = "sk-tui-test-KEY-0123456789abcdef"


@pytest.fixture
def fake():
    with FakeProviderServer(api_key=KEY) as server:
        yield server


async def _wait(pilot, predicate, timeout=30.0):
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        await pilot.pause(0.1)
        if predicate():
            return
    raise AssertionError("timed out")


def _text(app, selector):
    return str(app.screen.query_one(selector).render())


async def test_bad_data_shows_line_numbers_and_blocks_start(project_dir):
    (project_dir / "train.jsonl").write_text('{"text": "a"}\n{"prompt": "p", "completion": "c"}\n', encoding="utf-8")
    app = make_app(project_dir, start_step="hosted")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.query_one("#provider").pressed_button  # noqa: B018 - screen is built
        await pilot.click("#provider RadioButton:last-of-type")
        await pilot.click("#check")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "line 2 prompt" in _text(app, "#checks")
        assert app.screen.query_one("#start").disabled


async def test_job_runs_from_the_wizard_to_the_model_id(project_dir, fake, chat_jsonl, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("TUNEWIZ_HOSTED_POLL_INTERVAL", "0.02")
    (project_dir / "train.jsonl").write_bytes(chat_jsonl.read_bytes())
    app = make_app(project_dir, start_step="hosted")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.screen.query_one("#val-file").value = ""
        app.screen.query_one("#base-url").value = fake.base_url("openai")
        app.screen.query_one("#api-key").value = KEY
        await pilot.click("#check")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Estimated cost" in _text(app, "#checks")
        await pilot.click("#start")
        await pilot.pause()
        assert type(app.screen).__name__ == "ConfirmHostedModal"
        await pilot.click("#yes")
        await _wait(pilot, lambda: "Fine-tuned model: ft:" in _text(app, "#job-status"))
        assert "finished" in _text(app, "#job-status")
        assert len(app.screen.query_one("#loss-spark").data) == 6
        svg = app.export_screenshot()
        assert KEY not in svg
    state = Project(project_dir).state
    run_id = state.train["run_id"]
    run_dir = project_dir / "runs" / run_id
    assert json.loads((run_dir / "state.json").read_text())["fine_tuned_model"].startswith("ft:")
    for path in list(run_dir.rglob("*")) + [project_dir / "tunewiz.yaml"]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
