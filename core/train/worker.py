"""The trainer process: `python -m core.train.worker RUN_DIR [--resume]`. Started by
`core.train.launch` in its own session (stdin from /dev/null, output to train.log), or under
`accelerate launch` for several GPUs, where only rank 0 writes events and state."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train.worker")
    parser.add_argument("run_dir")
    parser.add_argument("--resume", action="store_true", help="continue from the newest complete checkpoint")
    args = parser.parse_args(argv)

    from core.runs import RunDir
    from core.train.engine import Engine

    run = RunDir(Path(args.run_dir).resolve())
    _import_unsloth_first(run)
    return Engine(run, resume=args.resume).execute()


def _import_unsloth_first(run) -> None:
    """unsloth patches transformers/trl when imported first; do that before anything else loads them."""
    try:
        from core.train.backends import resolve_backend_name
        from core.train.engine import effective_config

        if resolve_backend_name(effective_config(run)) == "unsloth":
            import unsloth  # noqa: F401
    except Exception:
        pass  # the engine reports a readable error when it resolves the backend itself


if __name__ == "__main__":
    sys.exit(main())
