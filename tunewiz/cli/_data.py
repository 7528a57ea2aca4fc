"""Helpers shared by `tunewiz check` and `tunewiz split`: the project (only when one exists), a progress
bar on stderr, and recording results in `project.state.data`."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path


def load_project(project_dir: str | None):
    """The project at `--project` (or the current folder) if it has a tunewiz.yaml, else None."""
    from core.project import PROJECT_FILE, Project

    root = Path(project_dir or ".")
    if not (root / PROJECT_FILE).exists():
        return None
    return Project(root)


@contextlib.contextmanager
def progress_bar(enabled: bool = True):
    """Yield a progress(bytes_done, bytes_total) callback drawing a bar on stderr (only on a terminal)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.1 and done < total:
            return
        last[0] = now
        frac = done / total if total else 1.0
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r  reading [{bar:<30}] {frac:4.0%} {done / 1e6:,.1f}/{total / 1e6:,.1f} MB")
        sys.stderr.flush()

    try:
        yield progress
    finally:
        sys.stderr.write("\r" + " " * 70 + "\r")
        sys.stderr.flush()


def record_check(project, report) -> None:
    """Store the check summary in the project and tick (or untick) 'Data formatted correctly'."""
    from core.data.project import record_check_in_state

    record_check_in_state(project.state, report)
    project.save()
