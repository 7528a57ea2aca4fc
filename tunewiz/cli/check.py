"""`tunewiz check PATH`: validate a dataset and review its quality. Exit 0: no errors (warnings allowed);
1: errors found; 2: the input cannot be read at all."""

from __future__ import annotations

import argparse

FORMAT_CHOICES = ["auto", "messages", "sharegpt", "alpaca", "prompt-completion", "text"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "check",
        help="validate a dataset: every problem with its line and fix, plus quality statistics",
        description="Check a dataset (JSONL, JSON array, CSV, Parquet, a folder of them, or a Hugging Face dataset "
        "id). Reports every problem with its line number, field, code and fix, then token lengths, duplicates, "
        "secrets and the guide's data-quantity verdict. Exit codes: 0 no errors, 1 errors, 2 unreadable input.",
    )
    p.add_argument("path", help="dataset file, folder, or Hugging Face dataset id")
    p.add_argument("--format", choices=FORMAT_CHOICES, default="auto", help="dataset format (default: detect per file)")
    p.add_argument("--tokenizer", metavar="PATH_OR_ID", default=None,
                   help="count tokens with this Hugging Face tokenizer and its chat template (default: estimate chars/4)")
    p.add_argument("--max-seq-len", type=int, default=None, metavar="N",
                   help="max_seq_length to check lengths against (default: the project's, else 2048)")
    p.add_argument("--json", action="store_true", help="print the full report as JSON (documented shape)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.data import check_dataset
    from core.data.render import render_text
    from tunewiz.cli._common import print_json
    from tunewiz.cli._data import load_project, progress_bar, record_check

    project = load_project(args.project)
    max_seq_len = args.max_seq_len or (project.state.config.max_seq_length if project else 2048)
    with progress_bar(enabled=not args.no_progress and not args.json) as progress:
        report = check_dataset(args.path, format=args.format, tokenizer=args.tokenizer, max_seq_len=max_seq_len,
                               progress=progress)
    if project is not None:
        record_check(project, report)
    if args.json:
        print_json(report.to_json())
    else:
        print(render_text(report))
    return report.exit_code
