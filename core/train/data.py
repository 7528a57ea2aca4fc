"""Training data and chat templates for the backends: JSONL splits read with line-numbered errors,
and the named chat templates a config may choose instead of the tokenizer's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import TunewizError

NAMED_TEMPLATES = ("chatml",)


def read_jsonl_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file; a bad line fails with its file and line number."""
    path = Path(path)
    if not path.exists():
        raise TunewizError(f"{path}: no such data file", hint="run the Data step or set train_file/val_file")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise TunewizError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise TunewizError(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(row)
    if not rows:
        raise TunewizError(f"{path}: no examples")
    return rows


def load_split(path: str | Path):
    """A `datasets.Dataset` from a JSONL file of `messages` (or `text`, or prompt/completion) rows."""
    from datasets import Dataset

    rows = read_jsonl_rows(path)
    keys = set(rows[0])
    if "messages" in keys:
        rows = [{"messages": r["messages"]} for r in rows]
    elif not ({"text"} <= keys or {"prompt", "completion"} <= keys):
        raise TunewizError(f"{path}:1: expected a `messages` list (chat format), `text`, or prompt/completion fields")
    return Dataset.from_list(rows)


def template_source(name: str) -> str:
    """The Jinja source for a named template or a template file path."""
    if name == "chatml":
        from core.toy import CHATML_GENERATION_TEMPLATE

        return CHATML_GENERATION_TEMPLATE
    path = Path(name)
    if path.suffix in (".jinja", ".j2", ".txt") and path.exists():
        return path.read_text(encoding="utf-8")
    raise TunewizError(
        f"chat_template: unknown template {name!r}",
        hint=f"use one of: {', '.join(NAMED_TEMPLATES)}, a .jinja file, or leave it empty for the tokenizer's own",
    )


def prepare_tokenizer(tokenizer, chat_template: str | None) -> None:
    """Apply the chosen template and make sure there is a pad token."""
    if chat_template:
        tokenizer.chat_template = template_source(chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
