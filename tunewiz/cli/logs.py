"""`tunewiz logs [RUN] [--follow] [--raw] [--json]`: a run's progress (or its raw train.log)."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = subparsers.add_parser("logs", help="show a run's progress", description="Print a run's events as "
                              "progress lines (default), as JSON lines (--json), or its raw train.log (--raw).")
    p.add_argument("run", nargs="?", help="run id, unique prefix or folder (default: the newest run)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the run ends")
    p.add_argument("--raw", action="store_true", help="print train.log (the trainer's own output)")
    p.add_argument("--json", action="store_true", help="print the events as JSON lines")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import sys

    from core.events import read_events
    from core.train.follow import follow, format_event
    from core.train.launch import trainer_alive
    from tunewiz.cli._train_common import find, follow_run

    run_dir = find(args)
    if args.raw:
        try:
            sys.stdout.write(run_dir.log.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            pass
        return 0
    if args.json:
        events = follow(run_dir, alive=lambda: trainer_alive(run_dir)) if args.follow else read_events(run_dir.events)
        for event in events:
            print(json.dumps(event), flush=True)
        return 0
    if args.follow:
        return follow_run(run_dir, interactive=False)
    for event in read_events(run_dir.events):
        line = format_event(event)
        if line:
            print(line)
    return 0
