"""Screenshots of the Hosted step, against the local fake API server (no network, no real key)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from core.hosted.fake import FakeProviderServer
from core.toy import make_chat_examples, write_jsonl
from tui.app import make_app

SIZE = (120, 40)
DEMO_KEY = "sk-demo-not-a-real-key-000000"


def _project(work_dir: Path, bad: bool = False) -> None:
    rows = make_chat_examples(60, seed=3)
    if bad:
        rows[4] = {"messages": [{"role": "user", "content": "no reply here"}]}
        rows[9]["messages"][1]["weight"] = 2
    write_jsonl(work_dir / "train.jsonl", rows)
    write_jsonl(work_dir / "val.jsonl", make_chat_examples(12, seed=4))


async def hosted_checks(out_dir: Path, work_dir: Path) -> None:
    _project(work_dir, bad=True)
    app = make_app(work_dir, start_step="hosted")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#check")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(filename="hosted-checks.svg", path=str(out_dir))


async def hosted_confirm(out_dir: Path, work_dir: Path) -> None:
    _project(work_dir)
    app = make_app(work_dir, start_step="hosted")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#check")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.click("#start")
        await pilot.pause()
        app.save_screenshot(filename="hosted-confirm.svg", path=str(out_dir))


async def hosted_running(out_dir: Path, work_dir: Path) -> None:
    _project(work_dir)
    os.environ["TUNEWIZ_HOSTED_POLL_INTERVAL"] = "0.05"
    with FakeProviderServer(api_key=DEMO_KEY) as fake:
        fake.scenario["steps"] = 24
        app = make_app(work_dir, start_step="hosted")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.screen.query_one("#base-url").value = fake.base_url("openai")
            app.screen.query_one("#api-key").value = DEMO_KEY
            await pilot.click("#check")
            await app.workers.wait_for_complete()
            await pilot.click("#start")
            await pilot.pause()
            await pilot.click("#yes")
            end = time.monotonic() + 60
            while time.monotonic() < end and "Fine-tuned model" not in str(app.screen.query_one("#job-status").render()):
                await pilot.pause(0.2)
            await pilot.pause(0.6)
            app.save_screenshot(filename="hosted-finished.svg", path=str(out_dir))
    assert DEMO_KEY not in (out_dir / "hosted-finished.svg").read_text()
    state = json.loads(next((work_dir / "runs").iterdir()).joinpath("state.json").read_text())
    assert state.get("fine_tuned_model")


async def hosted_evaluate(out_dir: Path, work_dir: Path) -> None:
    """The Evaluate step on a finished hosted run: both models asked through the fake chat API."""
    from core.hosted import start_hosted_run
    from core.hosted.api import Backoff
    from core.project import Project

    _project(work_dir)
    with FakeProviderServer(api_key=DEMO_KEY) as fake:
        run = start_hosted_run("openai", work_dir / "train.jsonl", val_file=work_dir / "val.jsonl",
                               runs_dir=work_dir / "runs", base_url=fake.base_url("openai"), detach=False,
                               api_key=DEMO_KEY, poll_interval=0.02, tokenizer="approx",
                               backoff=Backoff(base=0.01, maximum=0.05), hyperparameters={"suffix": "support-bot"})
        project = Project(work_dir)
        project.state.train["active_run"] = run.run_id
        project.save()
        app = make_app(work_dir, start_step="evaluate")
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.screen.query_one("#eval-n").value = "8"
            app.screen.query_one("#eval-key").value = DEMO_KEY
            await pilot.press("e")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)
            app.save_screenshot(filename="hosted-evaluate.svg", path=str(out_dir))
    assert DEMO_KEY not in (out_dir / "hosted-evaluate.svg").read_text()
    assert (run.path / "eval.json").exists()


SHOTS = {"hosted-checks": hosted_checks, "hosted-confirm": hosted_confirm, "hosted-finished": hosted_running,
         "hosted-evaluate": hosted_evaluate}
