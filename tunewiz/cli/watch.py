"""`tunewiz watch [RUN]`: open the live training screen for a run (the newest by default)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "watch",
        help="open the live training screen for a run (the newest by default)",
        description="Open the live training screen for a run: one started from another terminal, one whose "
        "starting UI died, or a finished one (replayed from its log). Any number of watchers may follow the "
        "same run; quitting a watcher never touches the run.",
    )
    p.add_argument("run", nargs="?", metavar="RUN", help="run id, unique part of one, or run folder (default: the newest run)")
    p.add_argument("--runs-dir", metavar="DIR", default=None,
                   help="folder holding the runs (default: $TUNEWIZ_RUNS_DIR, else the project's runs/)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from core.errors import TunewizError
    from core.project import Project
    from core.runs import find_run

    project = Project(args.project)
    runs_dir = Path(args.runs_dir).resolve() if args.runs_dir else project.runs_dir
    run_dir = find_run(runs_dir, args.run)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise TunewizError(
            f"`tunewiz watch` needs a terminal (found run {run_dir.run_id})",
            hint=f"without one use `tunewiz logs {run_dir.run_id}` or `tunewiz runs --json`",
            exit_code=2,
        )
    from tui.watch_app import make_watch_app

    hint = "tunewiz"
    if args.project:
        hint += f" --project {args.project}"
    hint += f" watch {run_dir.run_id}"
    if args.runs_dir:
        hint += f" --runs-dir {args.runs_dir}"
    app = make_watch_app(project.root, run_dir, return_hint=hint)
    app.run()
    return app.return_code or 0
