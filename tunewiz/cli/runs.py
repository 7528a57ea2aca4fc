"""`tunewiz runs [--json]`: list training runs with their status."""

from __future__ import annotations


def register(subparsers) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = subparsers.add_parser("runs", help="list training runs", description="List the runs in the runs folder, "
                              "oldest first. Status `interrupted` means the trainer died without finishing "
                              "(`tunewiz resume RUN` continues it).")
    p.add_argument("--json", action="store_true", help="print a JSON list (see README for the shape)")
    add_runs_dir(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from core.train.launch import runs_summary
    from tunewiz.cli._common import print_json, warn
    from tunewiz.cli._train_common import runs_dir_for

    runs_dir = runs_dir_for(args)
    rows = runs_summary(runs_dir)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        warn(f"no runs in {runs_dir}; start one with `tunewiz train`")
        return 0
    print(f"{'RUN':<30} {'STATUS':<12} {'STEP':>11} {'LOSS':>8} {'EVAL':>8} {'BACKEND':<8} MODEL")
    for r in rows:
        step = f"{r['step']}/{r['total_steps'] or '?'}"
        loss = "-" if r["loss"] is None else f"{r['loss']:.4g}"
        ev = "-" if r["eval_loss"] is None else f"{r['eval_loss']:.4g}"
        model = (r["base_model"] or "").rsplit("/", 1)[-1]
        print(f"{r['run_id']:<30} {r['status']:<12} {step:>11} {loss:>8} {ev:>8} {r['backend'] or '-':<8} {model}")
    return 0
