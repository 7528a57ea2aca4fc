"""Helpers shared by the subcommand modules: JSON output and user-facing errors."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(obj: Any) -> None:
    """Print `obj` as stable, indented JSON on stdout (the documented `--json` output)."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def warn(message: str) -> None:
    """Diagnostics go to stderr so stdout stays program output."""
    print(message, file=sys.stderr)
