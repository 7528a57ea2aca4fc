"""`tunewiz stop [RUN]`: save a checkpoint, then stop the run."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = subparsers.add_parser("stop", help="save a checkpoint and stop a run",
                              description="Ask a running trainer to checkpoint and stop between steps. "
                              "`tunewiz resume RUN` continues it later.")
    p.add_argument("run", nargs="?", help="run id, unique prefix or folder (default: the newest run)")
    p.add_argument("--no-wait", action="store_true", help="send the request and return")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the trainer to stop (default 300)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import os
    import time

    from core.events import TERMINAL_TYPES, EventReader
    from core.train.follow import format_event
    from core.train.launch import stop_run, trainer_alive
    from tunewiz.cli._common import warn
    from tunewiz.cli._train_common import find

    run_dir = find(args)
    from core.hosted import cancel_run, is_hosted_run

    if is_hosted_run(run_dir):
        outcome = cancel_run(run_dir)
        warn(f"{run_dir.run_id}: hosted job {'cancel requested' if outcome == 'sent' else outcome.replace('-', ' ')}")
        return 0
    offset = os.path.getsize(run_dir.events) if run_dir.events.exists() else 0
    stop_run(run_dir)
    if args.no_wait:
        warn(f"stop requested for {run_dir.run_id}")
        return 0
    warn(f"stopping {run_dir.run_id} (saving a checkpoint first)...")
    reader = EventReader(run_dir.events)
    reader.offset = offset
    deadline = time.time() + args.timeout
    while time.time() < deadline:
        for event in reader.read_new():
            if event.get("type") in ("checkpoint", "stopped", "finished", "failed"):
                print(format_event(event), flush=True)
            if event.get("type") in TERMINAL_TYPES:
                return 0 if event["type"] != "failed" else 1
        if not trainer_alive(run_dir):
            warn("the trainer exited")
            return 0
        time.sleep(0.3)
    warn(f"still running after {args.timeout:.0f}s (a long step or checkpoint); it will stop at the next step")
    return 1
