"""`tunewiz doctor`: check the box is ready and say what to fix."""

from __future__ import annotations

import argparse

SYMBOLS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL", "info": "info"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check this box is ready to fine-tune and say what to fix")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--smoke", action="store_true",
                   help="also train a generated tiny model a few steps through the engine (about a minute on a CPU)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.doctor import run_checks
    from tunewiz.cli._common import print_json

    result = run_checks(args.project, smoke=args.smoke)
    if args.json:
        print_json(result)
    else:
        for c in result["checks"]:
            print(f"[{SYMBOLS.get(c['status'], c['status'])}] {c['name']:<12} {c['detail']}")
            if c["fix"]:
                print(f"{'':20}-> {c['fix']}")
        print(f"\nbackend: {result['backend']}   {'ready' if result['ok'] else 'not ready: fix the FAIL lines above'}")
    return 0 if result["ok"] else 1
