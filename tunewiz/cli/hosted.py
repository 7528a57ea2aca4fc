"""`tunewiz hosted`: fine-tune through the OpenAI or Together API, as a run like any local one.

  tunewiz hosted check    --provider openai|together DATA [--val FILE] [--model M] [--json]
  tunewiz hosted estimate --provider ... DATA [--val FILE] [--model M] [--epochs N|auto] [--price USD] [--json]
  tunewiz hosted start    --provider ... DATA [--val FILE] [--model M] [--epochs ...] [--set k=v] [--yes] [--detach] [--json]
  tunewiz hosted follow RUN [--detach]      re-attach a follower to a job that is still running
  tunewiz hosted cancel RUN                 cancel the job (also: `tunewiz stop RUN`)
  tunewiz hosted prices [--json]            the built-in price table and the date it was read
"""

from __future__ import annotations

import argparse
import sys

PROVIDERS = ("openai", "together")


def register(sub: argparse._SubParsersAction) -> None:
    from tunewiz.cli._train_common import add_runs_dir

    p = sub.add_parser(
        "hosted",
        help="fine-tune through the OpenAI or Together API (checks, cost estimate, job, live events)",
        description="Hosted fine-tuning: the provider's data rules, a cost estimate before anything is spent, "
        "and a job followed into a run folder like any local run (tunewiz runs / watch / the Train step). "
        "API keys come from OPENAI_API_KEY / TOGETHER_API_KEY or a hidden prompt and are never written to disk.",
    )
    hs = p.add_subparsers(dest="hosted_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])

    def common(q: argparse.ArgumentParser, *, data: bool = True) -> None:
        q.add_argument("--provider", required=True, choices=PROVIDERS, help="which API to use")
        if data:
            q.add_argument("data", metavar="DATA", help="training data (JSONL)")
            q.add_argument("--val", metavar="FILE", help="validation data (JSONL)")
            q.add_argument("--model", metavar="M", help="base model (default: the provider's default)")
        q.add_argument("--json", action="store_true", help="print JSON instead of text")

    q = hs.add_parser("check", help="check a data file against the provider's rules",
                      description="Report every line that breaks the provider's format rules, with line and field.")
    common(q)
    q.set_defaults(func=run_check)

    q = hs.add_parser("estimate", help="estimate the cost of a job",
                      description="Billable tokens x epochs x price, with the provider's rule for epochs 'auto'.")
    common(q)
    _estimate_args(q)
    q.set_defaults(func=run_estimate)

    q = hs.add_parser("start", help="check, estimate, confirm, upload and start a job",
                      description="Runs the checks, shows the estimate and asks before creating the job "
                      "(unless --yes). Without --detach it prints progress until the job ends; the job and its "
                      "follower keep going if the terminal goes away.")
    common(q)
    _estimate_args(q)
    q.add_argument("--batch-size", metavar="N", help="examples per step (openai: N or auto; together: N or max)")
    q.add_argument("--suffix", help="text added to the fine-tuned model's name")
    q.add_argument("--seed", type=int, help="random seed")
    q.add_argument("--set", metavar="KEY=VALUE", action="append", default=[],
                   help="any hyperparameter the provider accepts (e.g. learning_rate_multiplier=2, lora_r=16, n_evals=4)")
    q.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    q.add_argument("--detach", action="store_true", help="print the run id and return; the follower keeps going")
    add_runs_dir(q)
    q.add_argument("--base-url", metavar="URL", help="API base URL (a proxy or a local fake server)")
    q.add_argument("--poll-interval", type=float, default=15.0, metavar="S", help="seconds between polls (default 15)")
    q.set_defaults(func=run_start)

    q = hs.add_parser("follow", help="re-attach a follower to a hosted run",
                      description="Start a new follower for a hosted run whose follower stopped (the job keeps "
                      "running at the provider); it continues from the last event it recorded.")
    q.add_argument("run", metavar="RUN", help="run id, unique prefix or folder")
    q.add_argument("--detach", action="store_true", help="return at once")
    add_runs_dir(q)
    q.set_defaults(func=run_follow)

    q = hs.add_parser("cancel", help="cancel a hosted job", description="Cancel the provider's job; the run ends as stopped.")
    q.add_argument("run", metavar="RUN", help="run id, unique prefix or folder")
    add_runs_dir(q)
    q.set_defaults(func=run_cancel)

    q = hs.add_parser("prices", help="show the built-in price table", description="Prices per 1M training tokens, "
                      "with the date they were read. Override with --price or TUNEWIZ_HOME/hosted-prices.yaml.")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_prices)


def _estimate_args(q: argparse.ArgumentParser) -> None:
    q.add_argument("--epochs", default="auto", metavar="N|auto", help="epochs, or auto for the provider's rule")
    q.add_argument("--n-evals", type=int, default=0, metavar="N", help="together: evaluations on --val (billed)")
    q.add_argument("--full", action="store_true", help="together: full fine-tuning instead of LoRA")
    q.add_argument("--price", type=float, metavar="USD", help="override the price per 1M training tokens")


def _print_report(report) -> None:
    status = "ok" if report.ok else f"{len(report.errors)} error(s)"
    print(f"{report.path}: {report.examples} examples, {report.format or 'unknown'} format, {status}"
          f"{f', {len(report.warnings)} warning(s)' if report.warnings else ''}")
    for kind, items in (("error", report.errors), ("warning", report.warnings)):
        for item in items:
            where = f"line {item['line']}" if item["line"] else "file"
            field = f" {item['field']}:" if item["field"] else ""
            print(f"  {kind}: {where}:{field} {item['message']} [{item['code']}]")


def run_check(args) -> int:
    from core.hosted import check_file
    from tunewiz.cli._common import print_json

    reports = [check_file(args.provider, args.data, model=args.model)]
    if args.val:
        reports.append(check_file(args.provider, args.val, model=args.model, validation=True))
    if args.json:
        print_json({"ok": all(r.ok for r in reports), "files": [r.to_json() for r in reports]})
    else:
        for r in reports:
            _print_report(r)
    return 0 if all(r.ok for r in reports) else 1


def _estimate(args):
    from core.hosted import estimate_cost

    return estimate_cost(args.provider, args.data, val=args.val, model=args.model, epochs=args.epochs,
                         n_evals=args.n_evals, lora=not args.full, price=args.price)


def run_estimate(args) -> int:
    from tunewiz.cli._common import print_json

    est = _estimate(args)
    if args.json:
        print_json(est.to_json())
    else:
        print(f"{est.provider} / {est.model}")
        print(est.summary())
    return 0


def _hyperparameters(args) -> dict:
    from core.errors import TunewizError

    hp: dict = {"n_epochs": args.epochs}
    if args.provider == "together":
        hp["lora"] = not args.full
        if args.n_evals:
            hp["n_evals"] = args.n_evals
        if hp["n_epochs"] == "auto":
            hp["n_epochs"] = 1
    for name in ("batch_size", "suffix", "seed"):
        if getattr(args, name) is not None:
            hp[name] = getattr(args, name)
    for pair in args.set:
        key, sep, value = pair.partition("=")
        if not sep:
            raise TunewizError(f"--set {pair!r}: expected KEY=VALUE")
        hp[key.strip()] = value.strip()
    return hp


def run_start(args) -> int:
    from tunewiz.cli._train_common import runs_dir_for
    from core.errors import TunewizError
    from core.hosted import estimate_cost, start_hosted_run, validate_hyperparameters
    from core.hosted.run import check_inputs, resolve_api_key
    from tunewiz.cli._common import print_json, warn

    hp = validate_hyperparameters(args.provider, _hyperparameters(args))
    model = args.model or None
    from core.hosted.providers import get_provider

    model = model or get_provider(args.provider).default_model
    train_report, val_report = check_inputs(args.provider, args.data, args.val, model)
    for report in (train_report, val_report):
        for item in (report.warnings if report else []):
            warn(f"warning: {report.path}:{item['line'] or ''} {item['message']}")
    est = estimate_cost(args.provider, train_report, val=val_report, model=model, epochs=hp.get("n_epochs", "auto"),
                        n_evals=args.n_evals, lora=not args.full, price=args.price)
    if not args.yes:
        if not sys.stdin.isatty():
            raise TunewizError("starting a paid job needs confirmation", hint="pass --yes to confirm without a prompt")
        print(est.summary(), file=sys.stderr)
        answer = input(f"Start this {get_provider(args.provider).title} job? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not started", file=sys.stderr)
            return 1
    key = resolve_api_key(args.provider)
    echo = None if (args.json or args.detach) else (lambda line: print(line, file=sys.stderr))
    run = start_hosted_run(args.provider, args.data, val_file=args.val, model=model, hyperparameters=hp,
                           runs_dir=runs_dir_for(args), base_url=args.base_url, detach=True, api_key=key,
                           poll_interval=args.poll_interval, echo=echo)
    if args.detach or args.json:
        if args.json:
            from core.hosted.follower import read_hosted

            settings = read_hosted(run)
            print_json({"run_id": run.run_id, "run_dir": str(run.path), "provider": args.provider, "model": model,
                        "job_id": settings.get("job_id"), "estimate": est.to_json(), "status": "running"})
        else:
            print(run.run_id)
        return 0
    return _tail(run)


def _tail(run) -> int:
    """Print progress from the run's events until it ends; Ctrl+C leaves the job and follower running."""
    import time

    from core.events import EventReader, RunView

    reader = EventReader(run.events)
    view = RunView()
    try:
        while True:
            for event in reader.read_new():
                view.apply(event)
                kind = event.get("type")
                if kind == "step":
                    total = f"/{event['total_steps']}" if event.get("total_steps") else ""
                    print(f"step {event['step']}{total}  loss {event['loss']:.4f}", flush=True)
                elif kind == "eval":
                    print(f"eval at step {event['step']}: eval_loss {event['eval_loss']:.4f}", flush=True)
                elif kind == "checkpoint":
                    print(f"checkpoint at step {event['step']}: {event['path']}", flush=True)
                elif kind == "finished":
                    print(f"finished: fine-tuned model {event.get('output')}  (run {run.run_id})")
                    return 0
                elif kind == "failed":
                    print(f"failed: {event.get('error')}", file=sys.stderr)
                    if event.get("hint"):
                        print(f"  hint: {event['hint']}", file=sys.stderr)
                    return 1
                elif kind == "stopped":
                    print(f"stopped: {event.get('reason')}", file=sys.stderr)
                    return 1
            time.sleep(0.2)
    except KeyboardInterrupt:
        print(f"\nthe job keeps running; `tunewiz hosted follow {run.run_id}` or `tunewiz watch` to see it, "
              f"`tunewiz hosted cancel {run.run_id}` to cancel", file=sys.stderr)
        return 130


def run_follow(args) -> int:
    from tunewiz.cli._train_common import runs_dir_for
    from core.hosted.run import follow_run
    from core.runs import find_run

    run = find_run(runs_dir_for(args), args.run)
    result = follow_run(run, detach=True)
    if result == "already-following":
        print(f"{run.run_id}: a follower is already running", file=sys.stderr)
    if args.detach:
        return 0
    return _tail(run)


def run_cancel(args) -> int:
    from tunewiz.cli._train_common import runs_dir_for
    from core.hosted import cancel_run
    from core.runs import find_run

    run = find_run(runs_dir_for(args), args.run)
    result = cancel_run(run)
    messages = {"sent": "cancel sent to the follower; the run ends as stopped when the provider confirms",
                "cancelled": "job cancelled", "already-ended": "the run has already ended"}
    print(f"{run.run_id}: {messages[result]}")
    return 0


def run_prices(args) -> int:
    from core.hosted import price_table
    from tunewiz.cli._common import print_json

    table = price_table()
    if args.json:
        print_json(table)
        return 0
    print(f"Training prices, {table['unit']}, read {table['read']} (override: --price or hosted-prices.yaml)")
    print(f"OpenAI ({table['openai']['source']}):")
    for model, price in table["openai"]["models"].items():
        print(f"  {model:<16} ${price:g}")
    print(f"Together ({table['together']['source']}), by model size:")
    for tier in table["together"]["tiers"]:
        print(f"  up to {tier['max_billions']:g}B   LoRA ${tier['lora']:g}   full ${tier['full']:g}")
    return 0
