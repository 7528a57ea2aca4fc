"""How the live training screen copes with a huge event log.

Writes a 1,000,000-line events.jsonl (steps, a gpu sample every 10 steps, evals), then measures:
the core catch-up fold (`RunFollower.catch_up`), a plain full fold for comparison, and in a headless
app: time to the first screen update and how long the UI event loop ever stalled meanwhile (a 10 ms
timer's largest gap), i.e. whether keys are still handled while the log is read.

    python bench/watch_big_log.py [--lines N]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def app_timings(project_dir: Path, run) -> tuple[float, float, float]:
    """(seconds to the first screen update, worst and 99th-percentile gap of a 10 ms UI timer meanwhile)."""
    from tui.watch_app import make_watch_app
    from tui.widgets.run_monitor import RunMonitor

    app = make_watch_app(project_dir, run)
    gaps: list[float] = []
    last = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if last[0]:
            gaps.append(now - last[0])
        last[0] = now

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # mounted: from here the event loop should never stall
        start = time.perf_counter()
        app.set_interval(0.01, tick)
        while True:
            await asyncio.sleep(0.02)
            monitors = [m for s in app.screen_stack for m in s.query(RunMonitor)]
            if monitors and monitors[0].updates:
                break
            if time.perf_counter() - start > 120:
                raise SystemExit("no update within 120 s")
        first = time.perf_counter() - start
    gaps.sort()
    return first, gaps[-1] if gaps else 0.0, gaps[int(len(gaps) * 0.99)] if gaps else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    from core.events import fold, read_events
    from core.runs import RunDir
    from core.watch import RunFollower
    from tests.fixtures.make_runs import big_log

    with tempfile.TemporaryDirectory(prefix="tunewiz-bench-") as tmp:
        project = Path(tmp)
        t = time.perf_counter()
        path = big_log(project / "runs" / "big-run" / "events.jsonl", args.lines)
        print(f"wrote {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s")
        run = RunDir(path.parent)
        t = time.perf_counter()
        follower = RunFollower(run)
        follower.catch_up()
        catch_up = time.perf_counter() - t
        print(f"RunFollower.catch_up: {catch_up:.2f} s  (kept {len(follower.view.losses):,} loss points, stride {follower.stride})")
        t = time.perf_counter()
        full = fold(read_events(path))
        plain = time.perf_counter() - t
        assert (full.step, full.loss) == (follower.view.step, follower.view.loss)
        print(f"plain full fold:      {plain:.2f} s  ({plain / catch_up:.1f}x slower)")
        first, worst, p99 = asyncio.run(app_timings(project, run))
        print(f"app: first screen update after {first:.2f} s; UI event loop stalls meanwhile: "
              f"worst {worst * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (10 ms timer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
