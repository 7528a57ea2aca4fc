"""Start-up time: launch to `tunewiz --help` output, and launch to the wizard's first full frame
(headless, 120x40). Run by hand: `python bench/startup.py [--repeat 5]`. Prints medians in ms."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIRST_FRAME = """
import asyncio, os, sys, tempfile, time
from tui.app import make_app
async def main():
    app = make_app(tempfile.mkdtemp())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        print(time.time())
        heavy = [m for m in ("torch", "transformers", "peft", "trl", "datasets") if m in sys.modules]
        print(",".join(heavy))
asyncio.run(main())
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def time_help() -> float:
    start = time.time()
    subprocess.run([sys.executable, "-m", "tunewiz", "--help"], check=True, capture_output=True, env=_env())
    return (time.time() - start) * 1000


def time_first_frame() -> tuple[float, str]:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", FIRST_FRAME], check=True, capture_output=True, text=True,
                         env=_env(), cwd=tempfile.mkdtemp()).stdout.split("\n")
    return (float(out[0]) - start) * 1000, out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    helps = [time_help() for _ in range(args.repeat)]
    frames = [time_first_frame() for _ in range(args.repeat)]
    bare = []
    for _ in range(args.repeat):
        start = time.time()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append((time.time() - start) * 1000)
    base = statistics.median(bare)
    help_ms = statistics.median(helps)
    frame_ms = statistics.median(f for f, _ in frames)
    heavy = {h for _, h in frames if h}
    print(f"python -c pass        {base:8.0f} ms  (interpreter baseline)")
    print(f"tunewiz --help        {help_ms:8.0f} ms  ({help_ms / base:.1f}x baseline)")
    print(f"wizard first frame    {frame_ms:8.0f} ms  ({frame_ms / base:.1f}x baseline)")
    print(f"ML modules at first frame: {', '.join(heavy) if heavy else 'none'}")


if __name__ == "__main__":
    main()
