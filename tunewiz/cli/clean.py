"""`tunewiz clean PATH --fix ...`: preview fixes, then write a cleaned copy (the input is never modified)."""

from __future__ import annotations

import argparse
import sys

_FLAGS = {
    "drop_invalid": "drop records with errors",
    "drop_duplicates": "drop exact duplicates (keep the first)",
    "drop_bad": "drop examples marked bad in the review",
    "strip_whitespace": "strip leading/trailing whitespace of every turn",
    "to_messages": "write every record in the messages format",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "clean",
        help="preview and apply fixes (drop invalid/duplicates/bad, strip whitespace, convert) into a new file",
        description="Shows what each chosen fix would change, then writes <name>.clean.jsonl (or --out) after "
        "confirmation (--yes to skip it). Your file is never modified.",
    )
    p.add_argument("path", help="dataset file or folder")
    for name, text in _FLAGS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, action="store_true", help=text)
    p.add_argument("--all", action="store_true", help="apply every fix")
    p.add_argument("--out", metavar="FILE", default=None, help="output file (default <name>.clean.jsonl)")
    p.add_argument("--yes", action="store_true", help="write without asking")
    p.add_argument("--dry-run", action="store_true", help="only show the preview")
    p.add_argument("--json", action="store_true", help="print the plan (and result) as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.data.clean import apply_clean, default_clean_path, plan_clean
    from core.errors import TunewizError
    from tunewiz.cli._common import print_json

    fixes = [f for f in _FLAGS if args.all or getattr(args, f)]
    if not fixes:
        raise TunewizError("choose at least one fix (e.g. --drop-invalid --drop-duplicates, or --all)", exit_code=2)
    plan = plan_clean(args.path, fixes)
    out = args.out or default_clean_path(args.path)
    if not args.json:
        print(f"Preview of {', '.join(fixes)} on {args.path}:")
        for line in plan.describe():
            print(f"  {line}")
    if args.dry_run:
        if args.json:
            print_json(plan.to_json())
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"nothing written; pass --yes to write {out}", file=sys.stderr)
            return 0
        if input(f"Write {out}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing written", file=sys.stderr)
            return 0
    result = apply_clean(args.path, fixes, out=out)
    if args.json:
        print_json(result.to_json())
    else:
        print(f"wrote {result.records_out} records to {result.out_file}")
    return 0
