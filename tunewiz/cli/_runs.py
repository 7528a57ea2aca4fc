"""Shared by the eval and export commands: find the run, report progress on stderr, tick the checklist."""

from __future__ import annotations

import sys


def add_run_arguments(p) -> None:
    p.add_argument("run", nargs="?", default=None, metavar="RUN",
                   help="run id, unique id prefix or run folder (default: the newest run)")
    from tunewiz.cli._train_common import add_runs_dir

    add_runs_dir(p)


def resolve_run(args):
    """(Project or None, RunDir) for the command's RUN and --runs-dir. The project is returned only
    when it has a tunewiz.yaml, so commands tick its checklist without creating one."""
    from pathlib import Path

    from core.project import PROJECT_FILE, Project
    from core.runs import find_run
    from tunewiz.cli._train_common import runs_dir_for

    has_file = (Path(args.project or ".") / PROJECT_FILE).exists()
    project = Project(args.project) if has_file else None
    return project, find_run(runs_dir_for(args, project), args.run)


class StderrProgress:
    """Progress lines on stderr: rewritten in place on a terminal, one line per stage otherwise."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.stage = None
        self.tty = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        if self.tty:
            end = "\n" if done >= total else ""
            print(f"\r  {stage:<16} {done}/{total}", end=end, file=sys.stderr, flush=True)
        elif stage != self.stage:
            print(f"  {stage} ...", file=sys.stderr, flush=True)
        self.stage = stage


def tick(project, item_id: str, note: str, section: str, data: dict) -> None:
    """Tick a checklist item and remember `data` in the project's `section`, when there is a project file."""
    if project is None:
        return
    getattr(project.state, section).update(data)
    project.state.tick(item_id, note)
    project.save()
