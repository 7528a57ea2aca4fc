"""The `tunewiz` command. Each subcommand is a small module in this package exposing
`register(subparsers)`; the module is imported only to build the parser, so keep module
top-levels free of heavy imports (torch and friends are imported inside `run`)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from tunewiz import __version__

# Subcommand modules, in the order `--help` lists them. Add a module here to add a command.
COMMANDS = [
    "demo",
    "ask",
    "doctor",
    "check",
    "split",
    "clean",
    "plan",
    "train",
    "runs",
    "logs",
    "watch",
    "stop",
    "resume",
    "eval",
    "export",
    "export_config",
    "hosted",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunewiz",
        description="A terminal wizard from 'should I fine-tune?' to a fine-tuned, evaluated, exported LLM. "
        "With no command it opens the wizard.",
    )
    parser.add_argument("--version", action="version", version=f"tunewiz {__version__}")
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=None,
        help="project folder holding tunewiz.yaml and runs/ (default: the current folder)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tunewiz.cli.{name}").register(sub)
    return parser


def open_wizard(project_dir: str | None, **kwargs) -> int:
    """Launch the Textual wizard (imported here so `--help` never pays for it)."""
    from core.watch import wizard_start_step
    from tui.app import make_app

    if "start_step" not in kwargs:  # a run in progress: come back to its live screen
        kwargs["start_step"] = wizard_start_step(project_dir)
    app = make_app(project_dir=project_dir, **kwargs)
    app.run()
    return app.return_code or 0


def main(argv: list[str] | None = None) -> int:
    from core.errors import TunewizError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return open_wizard(args.project)
        return int(args.func(args) or 0)
    except TunewizError as exc:
        print(f"tunewiz: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tunewiz: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug, not a user error: keep it readable, traceback on request
        if os.environ.get("TUNEWIZ_DEBUG"):
            raise
        print(
            f"tunewiz: internal error: {type(exc).__name__}: {exc}\n"
            "  (this is a bug in tunewiz; run again with TUNEWIZ_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
