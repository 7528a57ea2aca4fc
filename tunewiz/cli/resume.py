"""`tunewiz resume [RUN] [--option ID]`: continue a run, or answer one waiting after an OOM."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = subparsers.add_parser(
        "resume", help="continue a stopped/killed run, unpause it, or answer its OOM question",
        description="If the run's trainer is gone (stopped, killed, failed), start it again from its newest "
        "complete checkpoint with the same effective batch. If it is waiting after an out-of-memory error, "
        "--option sends the choice. If it is paused, unpause it.",
    )
    p.add_argument("run", nargs="?", help="run id, unique prefix or folder (default: the newest run)")
    p.add_argument("--option", metavar="ID", help="OOM option id to apply (from the oom event, e.g. halve_batch)")
    p.add_argument("--detach", action="store_true", help="return at once instead of following progress")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from core.errors import TunewizError
    from core.train.launch import choose_oom_option, resume_run, run_status, trainer_alive, unpause_run
    from tunewiz.cli._common import warn
    from tunewiz.cli._train_common import find, follow_run

    run_dir = find(args)
    from core.hosted import follow_run as follow_hosted, is_hosted_run

    if is_hosted_run(run_dir):
        outcome = follow_hosted(run_dir, detach=args.detach)
        warn(f"{run_dir.run_id}: hosted job {outcome.replace('-', ' ')}")
        return 0
    if trainer_alive(run_dir):
        status = run_status(run_dir)
        if status == "waiting_oom":
            if not args.option:
                raise TunewizError(f"run {run_dir.run_id} is waiting for an OOM choice",
                                   hint=f"`tunewiz logs {run_dir.run_id}` lists the options; pass --option ID")
            choose_oom_option(run_dir, args.option)
            warn(f"sent option {args.option} to {run_dir.run_id}")
        elif status == "paused":
            unpause_run(run_dir)
            warn(f"resuming {run_dir.run_id}")
        else:
            raise TunewizError(f"run {run_dir.run_id} is already running ({status})")
        if args.detach:
            return 0
        return follow_run(run_dir, offset=os.path.getsize(run_dir.events))
    offset = os.path.getsize(run_dir.events) if run_dir.events.exists() else 0
    resume_run(run_dir, option=args.option)
    if args.detach:
        print(run_dir.run_id)
        warn(f"resumed in the background; follow: tunewiz logs {run_dir.run_id} --follow")
        return 0
    return follow_run(run_dir, offset=offset)
