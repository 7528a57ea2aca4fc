"""Each provider's own data rules, checked line by line before anything is uploaded. Problems have the
same shape as the Data step's checks: {line, field, code, message} (line is 1-based, None for the whole
file; field is a JSON path like "messages[2].role"). Errors block the upload; warnings do not.

OpenAI (chat models): every line a JSON object with a `messages` list; each message a dict with a known
`role` and string `content` (or tool/function calls); `weight` only 0 or 1 and only on assistant
messages; at least one assistant message; each example within the model's token limit (longer ones are
truncated, and billed only up to it); at least 10 examples (50+ recommended).
Together: one of its formats per file (conversation `messages`, instruction `prompt`/`completion`, or
general `text`) with no mixing; roles system/user/assistant/tool, user and assistant turns alternating
after an optional leading system message; `weight` 0 or 1; string contents; at least one example."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.hosted.providers import Provider, get_provider
from core.hosted.tokens import example_tokens, text_counter

OPENAI_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
OPENAI_MESSAGE_KEYS = {"role", "content", "name", "weight", "function_call", "tool_calls", "tool_call_id", "refusal"}
TOGETHER_ROLES = ("system", "user", "assistant", "tool")
TOGETHER_MESSAGE_KEYS = {"role", "content", "weight", "name", "tool_calls", "tool_call_id"}
TOGETHER_FORMATS = {"conversation": ("messages",), "instruction": ("prompt", "completion"), "general": ("text",)}


def issue(line: int | None, field: str, code: str, message: str) -> dict[str, Any]:
    return {"line": line, "field": field, "code": code, "message": message}


@dataclass
class CheckReport:
    """Result of a provider check over one file. `tokens` is per example, in file order."""

    provider: str
    model: str
    path: str
    examples: int = 0
    format: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    token_limit: int = 0
    tokenizer: str = "approx"

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "model": self.model,
            "file": self.path,
            "ok": self.ok,
            "examples": self.examples,
            "format": self.format,
            "tokens": sum(self.tokens),
            "token_limit": self.token_limit,
            "tokenizer": self.tokenizer,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def read_jsonl_rows(path: Path, report: CheckReport) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every parseable line; unparseable lines become errors."""
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        report.errors.append(issue(None, "", "file_not_found", f"{path}: no such file"))
        return rows
    except UnicodeDecodeError as exc:
        report.errors.append(issue(None, "", "not_utf8", f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"))
        return rows
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            report.errors.append(issue(number, "", "blank_line", "blank line inside the file; remove it"))
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            report.errors.append(issue(number, "", "invalid_json", f"not valid JSON: {exc.msg} (column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            report.errors.append(issue(number, "", "not_an_object", f"expected a JSON object, got {type(obj).__name__}"))
            continue
        rows.append((number, obj))
    return rows


def check_file(provider: str | Provider, path: str | Path, *, model: str | None = None,
               tokenizer: str = "auto", validation: bool = False) -> CheckReport:
    """Run `provider`'s rules over a JSONL file. `validation` relaxes the minimum-examples rule."""
    prov = provider if isinstance(provider, Provider) else get_provider(provider)
    model = model or prov.default_model
    path = Path(path)
    count, counter_name = text_counter(prov.name, model, tokenizer)
    report = CheckReport(prov.name, model, str(path), token_limit=prov.token_limit(model), tokenizer=counter_name)
    rows = read_jsonl_rows(path, report)
    check_row = _check_openai_row if prov.name == "openai" else _check_together_row
    for number, row in rows:
        check_row(number, row, report)
        report.tokens.append(example_tokens(row, count))
        if report.tokens[-1] > report.token_limit:
            report.warnings.append(issue(
                number, "", "too_long",
                f"about {report.tokens[-1]:,} tokens, over {prov.title}'s limit of {report.token_limit:,} for {model}: "
                "it will be truncated",
            ))
    report.examples = len(rows)
    if prov.name == "openai":
        report.format = "chat"
    if not validation and not any(e["code"] in ("file_not_found", "not_utf8") for e in report.errors):
        if report.examples < prov.min_examples:
            report.errors.append(issue(None, "", "too_few_examples",
                                       f"{report.examples} examples; {prov.title} needs at least {prov.min_examples}"))
        elif report.examples < prov.recommended_examples:
            report.warnings.append(issue(None, "", "few_examples",
                                         f"{report.examples} examples; {prov.recommended_examples}+ usually give clearer results"))
    return report


# --- OpenAI ---------------------------------------------------------------------------------------------

def _check_openai_row(number: int, row: dict[str, Any], report: CheckReport) -> None:
    messages = row.get("messages")
    if messages is None:
        hint = " (prompt/completion is only for legacy completion models)" if "prompt" in row else ""
        report.errors.append(issue(number, "messages", "missing_messages", f"no `messages` list{hint}"))
        return
    if not isinstance(messages, list) or not messages:
        report.errors.append(issue(number, "messages", "bad_messages", "`messages` must be a non-empty list"))
        return
    unknown_top = set(row) - {"messages", "tools", "functions", "parallel_tool_calls"}
    if unknown_top:
        report.warnings.append(issue(number, sorted(unknown_top)[0], "unknown_key",
                                     f"keys ignored by OpenAI: {', '.join(sorted(unknown_top))}"))
    assistants = 0
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            report.errors.append(issue(number, where, "bad_message", "each message must be an object"))
            continue
        role = msg.get("role")
        if "role" not in msg:
            report.errors.append(issue(number, f"{where}.role", "missing_role", "message has no `role`"))
        elif role not in OPENAI_ROLES:
            report.errors.append(issue(number, f"{where}.role", "unknown_role",
                                       f"role {role!r} is not one of {', '.join(OPENAI_ROLES)}"))
        extra = set(msg) - OPENAI_MESSAGE_KEYS
        if extra:
            report.errors.append(issue(number, f"{where}.{sorted(extra)[0]}", "unknown_message_key",
                                       f"unrecognized message keys: {', '.join(sorted(extra))}"))
        has_call = bool(msg.get("tool_calls") or msg.get("function_call"))
        content = msg.get("content")
        if "content" not in msg and not has_call:
            report.errors.append(issue(number, f"{where}.content", "missing_content", "message has no `content`"))
        elif content is not None and not isinstance(content, (str, list)):
            report.errors.append(issue(number, f"{where}.content", "bad_content",
                                       f"`content` must be text, got {type(content).__name__}"))
        elif content is None and not has_call:
            report.errors.append(issue(number, f"{where}.content", "missing_content", "`content` is null"))
        if "weight" in msg:
            if msg["weight"] not in (0, 1) or isinstance(msg["weight"], bool):
                report.errors.append(issue(number, f"{where}.weight", "bad_weight", "`weight` must be 0 or 1"))
            elif role != "assistant":
                report.errors.append(issue(number, f"{where}.weight", "weight_not_assistant",
                                           "`weight` is only allowed on assistant messages"))
        if role == "assistant":
            assistants += 1
    if assistants == 0:
        report.errors.append(issue(number, "messages", "no_assistant", "no assistant message to learn from"))


# --- Together -------------------------------------------------------------------------------------------

def _together_format(row: dict[str, Any]) -> str | None:
    for name, keys in TOGETHER_FORMATS.items():
        if all(k in row for k in keys):
            return name
    return None


def _check_together_row(number: int, row: dict[str, Any], report: CheckReport) -> None:
    fmt = _together_format(row)
    if fmt is None:
        if {"input", "preferred_output", "non_preferred_output"} <= set(row):
            report.errors.append(issue(number, "", "preference_format",
                                       "preference (DPO) rows are not supported for supervised fine-tuning"))
        else:
            report.errors.append(issue(number, "", "unknown_format",
                                       "expected `messages`, `prompt` + `completion`, or `text`"))
        return
    if report.format is None:
        report.format = fmt
    elif fmt != report.format:
        report.errors.append(issue(number, TOGETHER_FORMATS[fmt][0], "mixed_formats",
                                   f"this line is {fmt} format but the file started as {report.format}; "
                                   "use one format per file"))
        return
    if fmt == "instruction":
        for key in ("prompt", "completion"):
            if not isinstance(row[key], str):
                report.errors.append(issue(number, key, "bad_content", f"`{key}` must be text"))
        return
    if fmt == "general":
        if not isinstance(row["text"], str):
            report.errors.append(issue(number, "text", "bad_content", "`text` must be text"))
        return
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        report.errors.append(issue(number, "messages", "bad_messages", "`messages` must be a non-empty list"))
        return
    previous: str | None = None
    assistants = 0
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            report.errors.append(issue(number, where, "bad_message", "each message must be an object"))
            return
        role = msg.get("role")
        if role not in TOGETHER_ROLES:
            report.errors.append(issue(number, f"{where}.role", "unknown_role",
                                       f"role {role!r} is not one of {', '.join(TOGETHER_ROLES)}"))
            return
        extra = set(msg) - TOGETHER_MESSAGE_KEYS
        if extra:
            report.errors.append(issue(number, f"{where}.{sorted(extra)[0]}", "unknown_message_key",
                                       f"unrecognized message keys: {', '.join(sorted(extra))}"))
        if not isinstance(msg.get("content"), str) and not msg.get("tool_calls"):
            report.errors.append(issue(number, f"{where}.content", "bad_content", "`content` must be text"))
        if "weight" in msg and (msg["weight"] not in (0, 1) or isinstance(msg["weight"], bool)):
            report.errors.append(issue(number, f"{where}.weight", "bad_weight", "`weight` must be 0 or 1"))
        if role == "system":
            if i != 0:
                report.errors.append(issue(number, f"{where}.role", "system_not_first",
                                           "a system message may only come first"))
        elif role != "tool":
            if previous is None and role != "user":
                report.errors.append(issue(number, f"{where}.role", "not_alternating",
                                           "the conversation must start with a user message (after an optional system one)"))
            elif previous == role:
                report.errors.append(issue(number, f"{where}.role", "not_alternating",
                                           f"two {role} messages in a row; user and assistant must alternate"))
            previous = role
        if role == "assistant":
            assistants += 1
    if assistants == 0:
        report.errors.append(issue(number, "messages", "no_assistant", "no assistant message to learn from"))
