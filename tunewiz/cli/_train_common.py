"""Helpers shared by the training subcommands (train, runs, stop, resume, logs): the runs folder,
finding a run, and following a run's progress in the terminal. Imports only light core modules."""

from __future__ import annotations

import sys
from pathlib import Path


def add_runs_dir(p) -> None:
    p.add_argument("--runs-dir", metavar="DIR", default=None,
                   help="runs folder (default: TUNEWIZ_RUNS_DIR, else the config's output_dir, else runs/ in the project)")


def runs_dir_for(args, project=None) -> Path:
    """--runs-dir, else the project's runs folder (`project` when already loaded)."""
    if getattr(args, "runs_dir", None):
        return Path(args.runs_dir).resolve()
    if project is None:
        from core.project import Project

        project = Project(args.project)
    return project.runs_dir


def find(args):
    from core.runs import find_run

    return find_run(runs_dir_for(args), getattr(args, "run", None))


def follow_run(run, *, offset: int = 0, interactive: bool = True) -> int:
    """Print progress lines until the run ends. Ctrl-C detaches (the trainer keeps going).
    Exit code: 0 finished or stopped on request, 1 failed or died, 4 stopped by an alert."""
    from core.train.follow import format_event, follow
    from core.train.launch import choose_oom_option, trainer_alive

    last = None
    try:
        for event in follow(run, alive=lambda: trainer_alive(run), offset=offset):
            last = event
            line = format_event(event)
            if line:
                _print(line)
            if event.get("type") == "oom" and event.get("waiting") and interactive and sys.stdin.isatty():
                choice = _ask_oom(event)
                if choice:
                    choose_oom_option(run, choice)
                    _print(f"sent option {choice}")
    except KeyboardInterrupt:
        _print(f"\ndetached; the run keeps training in the background.\n"
               f"  follow: tunewiz logs {run.run_id} --follow\n  stop:   tunewiz stop {run.run_id}")
        return 0
    kind = (last or {}).get("type")
    if kind == "finished":
        return 0
    if kind == "stopped":
        return 4 if last.get("reason") == "nan_loss" else 0
    if kind == "failed":
        return 1
    _print(f"the trainer exited without finishing; see {run.log}\n"
           f"  continue it: tunewiz resume {run.run_id}")
    return 1


def _ask_oom(event) -> str | None:
    options = [o for o in event.get("options") or [] if o.get("changes")]
    if not options:
        return None
    try:
        raw = input(f"choose an option 1-{len(options)} (Enter: keep waiting, choose later): ").strip()
    except EOFError:
        return None
    if raw.isdigit() and 1 <= int(raw) <= len(options):
        return options[int(raw) - 1]["id"]
    ids = {o["id"] for o in options}
    return raw if raw in ids else None


def _print(line: str) -> None:
    try:
        print(line, flush=True)
    except (BrokenPipeError, OSError):
        # The terminal went away: stop printing; the trainer is a separate session and carries on.
        raise KeyboardInterrupt from None
