"""`tunewiz split PATH`: deduplicate and write train.jsonl / val.jsonl (canonical messages format)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "split",
        help="deduplicate and split a dataset into train.jsonl and val.jsonl (90/10, seed 42)",
        description="Write train.jsonl and val.jsonl in the canonical messages format into the project folder "
        "(or --out). Records with errors are left out, exact duplicates are dropped and near duplicates kept on "
        "one side, so nothing leaks between train and validation. Your file is never modified.",
    )
    p.add_argument("path", help="dataset file, folder, or Hugging Face dataset id")
    p.add_argument("--val", type=float, default=0.1, help="validation fraction (default 0.1, the guide's 90/10)")
    p.add_argument("--seed", type=int, default=42, help="shuffle seed (default 42, the guide's)")
    p.add_argument("--out", metavar="DIR", default=None, help="output folder (default: the project folder)")
    p.add_argument("--exclude-reviewed-bad", action="store_true",
                   help="leave out examples marked bad in the review (<name>.review.json)")
    p.add_argument("--format", default="auto",
                   choices=["auto", "messages", "sharegpt", "alpaca", "prompt-completion", "text"])
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.data.project import record_split_in_state
    from core.data.split import split_dataset
    from tunewiz.cli._common import print_json
    from tunewiz.cli._data import load_project, progress_bar

    project = load_project(args.project)
    out = args.out or args.project or "."
    with progress_bar(enabled=not args.json) as progress:
        result = split_dataset(args.path, val=args.val, seed=args.seed, out=out,
                               exclude_reviewed_bad=args.exclude_reviewed_bad, format=args.format, progress=progress)
    if project is not None:
        record_split_in_state(project.state, result)
        project.save()
    if args.json:
        print_json(result.to_json())
        return 0
    d = result.dropped
    print(f"train  {result.train_examples:>7,}  {result.train_file}")
    print(f"val    {result.val_examples:>7,}  {result.val_file}")
    print(f"left out: {d['errors']} with errors, {d['duplicates']} duplicates, {d['reviewed_bad']} marked bad "
          f"(seed {result.seed}, val {result.val_fraction:g})")
    return 0
