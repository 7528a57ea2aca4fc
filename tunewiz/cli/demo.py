"""`tunewiz demo`: the whole wizard on the bundled small model and sample data, on any machine."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="run the whole wizard on a real small model (SmolLM2-135M) and sample data, even on a CPU",
        description="Sets up a demo project (support-ticket triage data, SmolLM2-135M-Instruct, CPU-sized "
        "settings) and opens the wizard in it. --headless runs data check, split, plan, training, "
        "evaluation (base vs tuned) and GGUF export without the UI and exits 1 if the tuned model is not better.",
    )
    p.add_argument("--headless", action="store_true", help="run the pipeline without the UI and print a summary")
    p.add_argument("--max-steps", type=int, default=None, metavar="N", help="training steps (default 40)")
    p.add_argument("--eval-n", type=int, default=None, metavar="N", help="held-out tickets to evaluate (default 20)")
    p.add_argument("--dir", default="tunewiz-demo", help="demo project folder (default ./tunewiz-demo)")
    p.add_argument("--json", action="store_true", help="with --headless: print the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from core.demo import DEMO_EVAL_N, DEMO_MAX_STEPS, prepare_demo_project, run_headless
    from core.errors import TunewizError
    from tunewiz.cli._common import print_json

    max_steps = DEMO_MAX_STEPS if args.max_steps is None else args.max_steps
    if max_steps < 1:
        raise TunewizError("--max-steps must be at least 1")
    if args.eval_n is not None and args.eval_n < 1:
        raise TunewizError("--eval-n must be at least 1")

    def echo(line: str) -> None:
        print(line, file=sys.stderr if args.json else sys.stdout, flush=True)

    if not args.headless:
        project = prepare_demo_project(args.dir, max_steps=max_steps, echo=echo)
        from tunewiz.cli.main import open_wizard

        return open_wizard(str(project.root))
    summary = run_headless(args.dir, max_steps=max_steps, eval_n=DEMO_EVAL_N if args.eval_n is None else args.eval_n, echo=echo)
    if args.json:
        print_json(summary)
    else:
        base, tuned = summary["eval"]["base"], summary["eval"]["tuned"]
        print(f"\nSummary ({summary['seconds']:.0f}s): loss {summary['train']['first_loss']:.3f} -> "
              f"{summary['train']['final_loss']:.3f}; JSON valid {base['json_valid']:.0%} -> {tuned['json_valid']:.0%}; "
              f"field accuracy {base['field_match']:.0%} -> {tuned['field_match']:.0%}")
        print(f"GGUF: {summary['export'].get('path')}")
        print("The tuned model is better on the held-out set." if summary["improved"]
              else "The tuned model is NOT better on the held-out set.")
    return 0 if summary["improved"] else 1
