"""Regenerate screenshots/flow-*.svg: every wizard step at 120x40 as reached in one keyboard-driven run on
the tiny test model (the same key presses as tests/test_e2e_wizard.py, from tests/e2e_flow.py): Decide,
Data (checked, reviewed, split), Plan, Train (start, running, finished), Evaluate, Export. Takes about a
minute on a CPU; fully offline.

    python scripts/screenshots_flow.py              # into screenshots/
    python scripts/screenshots_flow.py OUT_DIR
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TZ", "UTC")

SIZE = (120, 40)
MAX_STEPS = 20


async def flow(out_dir: Path, work_dir: Path) -> list[Path]:
    from core.toy import build_tiny_model
    from tests.e2e_flow import do_data, do_decide, do_evaluate, do_export, do_plan, do_train, prepare_flow_project
    from tui.app import make_app
    from tui.widgets.run_monitor import RunMonitor

    RunMonitor.min_update_interval = 0.1
    model = build_tiny_model(work_dir / "models" / "tiny-llama")
    project = prepare_flow_project(work_dir / "project", model, max_steps=MAX_STEPS)
    app = make_app(project)
    written: list[Path] = []

    async with app.run_test(size=SIZE) as pilot:
        async def snap(name: str) -> None:
            app.clear_notifications()  # toasts would cover the step; each step shows its own result
            await pilot.pause(0.3)
            written.append(Path(app.save_screenshot(filename=f"flow-{name}.svg", path=str(out_dir))))
            print(f"{out_dir.name}/flow-{name}.svg", flush=True)

        await do_decide(pilot, snap=snap)
        await do_data(pilot, "chat.jsonl", snap=snap)
        await do_plan(pilot, snap=snap, seq=128)
        await do_train(pilot, snap=snap)
        await do_evaluate(pilot, n=6, snap=snap)
        await do_export(pilot, quant="q8_0", snap=snap)
    return written


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else ROOT / "screenshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tunewiz-flow-") as work:
        asyncio.run(flow(out_dir.resolve(), Path(work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
