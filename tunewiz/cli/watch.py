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
    from tunewiz.cli._train_common import add_runs_dir

    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from core.errors import TunewizError
    from core.project import Project
    from core.runs import find_run
    from tunewiz.cli._train_common import runs_dir_for

    project = Project(args.project)
    run_dir = find_run(runs_dir_for(args, project), args.run)
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
