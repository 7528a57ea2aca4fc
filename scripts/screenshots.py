"""Regenerate screenshots/*.svg from the real app at 120x40.

Each area has a module `scripts/shots_<area>.py` defining `SHOTS = {name: async fn(out_dir, work_dir)}`;
this script runs every shot (or the ones named on the command line) in a fresh temporary folder.

    python scripts/screenshots.py            # all
    python scripts/screenshots.py decide     # one
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TZ", "UTC")


def all_shots() -> dict:
    shots = {}
    for path in sorted((ROOT / "scripts").glob("shots_*.py")):
        module = importlib.import_module(path.stem)
        shots.update(module.SHOTS)
    return shots


async def run(names: list[str]) -> int:
    shots = all_shots()
    unknown = [n for n in names if n not in shots]
    if unknown:
        print(f"unknown shot(s): {', '.join(unknown)}; known: {', '.join(shots)}", file=sys.stderr)
        return 2
    out_dir = ROOT / "screenshots"
    out_dir.mkdir(exist_ok=True)
    for name in names or list(shots):
        with tempfile.TemporaryDirectory(prefix=f"tunewiz-shot-{name}-") as work:
            await shots[name](out_dir, Path(work))
        print(f"screenshots/{name}.svg")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(run(sys.argv[1:])))
