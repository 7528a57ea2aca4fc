"""Dataset formats and their normalization into the one canonical conversation form.

Canonical form (what `tunewiz split` writes and the training engine reads): a list of turns
`{"role": "system"|"user"|"assistant"|"tool", "content": str}`, plus `"weight": 0|1` on a turn only when the
source gave one. Per format:
- messages (OpenAI chat): `messages` as given; `content` may be a string or a list of `{"type": "text"}` parts
  (joined); optional `name`, `weight`, `tool_calls`, `tool_call_id`.
- sharegpt: `conversations: [{"from", "value"}]`; `from` human/user -> user, gpt/assistant/bot/model/chatgpt ->
  assistant, system -> system, tool/function/observation -> tool.
- alpaca: `instruction` (+ `input`, joined by a blank line) -> user, `output` -> assistant, optional `system`.
- prompt-completion: `prompt` -> user, `completion` -> assistant (each may also be a list of messages).
- text: `text` -> one assistant turn (plain-text training on the whole text; no conversation rules apply).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from core.data.codes import Issue

FORMATS = ("messages", "sharegpt", "alpaca", "prompt-completion", "text")
CHAT_FORMATS = ("messages", "sharegpt", "alpaca", "prompt-completion")
ROLES = ("system", "user", "assistant", "tool")

_MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}
_TOP_KEYS = {
    "messages": {"messages", "tools", "functions", "parallel_tool_calls", "id", "metadata"},
    "sharegpt": {"conversations", "system", "tools", "id", "source"},
    "alpaca": {"instruction", "input", "output", "system", "id"},
    "prompt-completion": {"prompt", "completion", "id"},
    "text": {"text", "id"},
}
_SHAREGPT_ROLES = {
    "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "bot": "assistant",
    "model": "assistant", "chatgpt": "assistant", "system": "system", "tool": "tool", "function": "tool",
    "observation": "tool", "function_call": "assistant",
}


def detect_format(obj: Any) -> str | None:
    """The format a record is in, by its keys; None when it matches none."""
    if not isinstance(obj, dict):
        return None
    if "messages" in obj:
        return "messages"
    if "conversations" in obj:
        return "sharegpt"
    if "instruction" in obj and "output" in obj:
        return "alpaca"
    if "prompt" in obj and "completion" in obj:
        return "prompt-completion"
    if "text" in obj:
        return "text"
    return None


def majority_format(objs: list[Any]) -> str | None:
    counts = Counter(f for f in map(detect_format, objs) if f)
    return counts.most_common(1)[0][0] if counts else None


def normalize(obj: dict, fmt: str, line: int, file: str) -> tuple[list[dict] | None, list[Issue]]:
    """Turn a record of format `fmt` into canonical turns. Returns (turns, issues); turns is None when the
    record's structure is too broken to extract a conversation from."""
    issues: list[Issue] = []
    extra = [k for k in obj if k not in _TOP_KEYS[fmt]]
    for key in extra:
        issues.append(Issue(line, str(key), "unknown_key", f"unknown key {key!r} for the {fmt} format", file))
    if fmt == "messages":
        turns = _messages(obj.get("messages", _MISSING), "messages", line, file, issues)
    elif fmt == "sharegpt":
        turns = _sharegpt(obj, line, file, issues)
    elif fmt == "alpaca":
        turns = _alpaca(obj, line, file, issues)
    elif fmt == "prompt-completion":
        turns = _prompt_completion(obj, line, file, issues)
    else:
        text = obj.get("text", _MISSING)
        turns = None
        if _string_field(text, "text", line, file, issues):
            turns = [{"role": "assistant", "content": text}]
    return turns, issues


_MISSING = object()


def _string_field(value: Any, name: str, line: int, file: str, issues: list[Issue], required: bool = True) -> bool:
    if value is _MISSING or value is None:
        if required:
            issues.append(Issue(line, name, "empty_field", f"{name!r} is missing", file))
        return False
    if not isinstance(value, str):
        issues.append(Issue(line, name, "field_not_string", f"{name!r} is {_kind(value)}, not a string", file))
        return False
    if required and not value.strip():
        issues.append(Issue(line, name, "empty_field", f"{name!r} is empty", file))
        return False
    return True


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            type(None): "null", str: "a string"}.get(type(value), type(value).__name__)


def _content_text(content: Any, path: str, line: int, file: str, issues: list[Issue]) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                what = part.get("type") if isinstance(part, dict) else _kind(part)
                issues.append(Issue(line, f"{path}[{j}]", "content_not_string",
                                    f"content part {j} is {what!r}, not a text part", file))
                return None
        return "".join(parts)
    issues.append(Issue(line, path, "content_not_string", f"content is {_kind(content)}, not text", file))
    return None


def _messages(messages: Any, base: str, line: int, file: str, issues: list[Issue]) -> list[dict] | None:
    if messages is _MISSING or messages is None:
        issues.append(Issue(line, base, "missing_messages", f"no {base!r} list", file))
        return None
    if not isinstance(messages, list):
        issues.append(Issue(line, base, "missing_messages", f"{base!r} is {_kind(messages)}, not a list", file))
        return None
    if not messages:
        issues.append(Issue(line, base, "missing_messages", f"{base!r} is an empty list", file))
        return None
    turns: list[dict] = []
    ok = True
    for i, msg in enumerate(messages):
        path = f"{base}[{i}]"
        if not isinstance(msg, dict):
            issues.append(Issue(line, path, "message_not_object", f"message {i} is {_kind(msg)}", file))
            ok = False
            continue
        for key in msg:
            if key not in _MESSAGE_KEYS:
                issues.append(Issue(line, f"{path}.{key}", "unknown_key", f"unknown message key {key!r}", file))
        role = msg.get("role", _MISSING)
        if role is _MISSING or role is None:
            issues.append(Issue(line, f"{path}.role", "missing_role", f"message {i} has no role", file))
            ok = False
        elif role not in ROLES:
            issues.append(Issue(line, f"{path}.role", "unknown_role", f"role {role!r} is not one of {', '.join(ROLES)}", file))
            ok = False
        content = msg.get("content", _MISSING)
        has_calls = bool(msg.get("tool_calls") or msg.get("function_call"))
        if content is _MISSING or (content is None and not has_calls):
            issues.append(Issue(line, f"{path}.content", "missing_content", f"message {i} has no content", file))
            ok = False
            text = None
        elif content is None:
            text = ""
        else:
            text = _content_text(content, f"{path}.content", line, file, issues)
            ok = ok and text is not None
        if "weight" in msg and (isinstance(msg["weight"], bool) or msg["weight"] not in (0, 1)):
            issues.append(Issue(line, f"{path}.weight", "invalid_weight", f"weight is {msg['weight']!r}", file))
            ok = False
        if ok:
            turn = {"role": role, "content": text}
            if "weight" in msg:
                turn["weight"] = int(msg["weight"])
            if has_calls:
                turn["_tool_call"] = True
            turns.append(turn)
    return turns if ok else None


def _sharegpt(obj: dict, line: int, file: str, issues: list[Issue]) -> list[dict] | None:
    conv = obj.get("conversations", _MISSING)
    if not isinstance(conv, list) or not conv:
        what = "missing" if conv is _MISSING else ("an empty list" if conv == [] else _kind(conv))
        issues.append(Issue(line, "conversations", "missing_messages", f"'conversations' is {what}", file))
        return None
    turns: list[dict] = []
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        turns.append({"role": "system", "content": obj["system"], "_top": True})
    ok = True
    for i, msg in enumerate(conv):
        path = f"conversations[{i}]"
        if not isinstance(msg, dict):
            issues.append(Issue(line, path, "message_not_object", f"turn {i} is {_kind(msg)}", file))
            ok = False
            continue
        who = msg.get("from", msg.get("role", _MISSING))
        if who is _MISSING or who is None:
            issues.append(Issue(line, f"{path}.from", "missing_role", f"turn {i} has no 'from'", file))
            ok = False
        elif not isinstance(who, str) or who.lower() not in _SHAREGPT_ROLES:
            issues.append(Issue(line, f"{path}.from", "unknown_role", f"'from' {who!r} is not a known speaker "
                                "(human, gpt, system, tool and common variants)", file))
            ok = False
        value = msg.get("value", msg.get("content", _MISSING))
        if value is _MISSING or value is None:
            issues.append(Issue(line, f"{path}.value", "missing_content", f"turn {i} has no 'value'", file))
            ok = False
        elif not isinstance(value, str):
            issues.append(Issue(line, f"{path}.value", "content_not_string", f"'value' is {_kind(value)}, not text", file))
            ok = False
        if ok:
            turns.append({"role": _SHAREGPT_ROLES[who.lower()], "content": value})
    return turns if ok else None


def _alpaca(obj: dict, line: int, file: str, issues: list[Issue]) -> list[dict] | None:
    instruction, inp, output = obj.get("instruction", _MISSING), obj.get("input", ""), obj.get("output", _MISSING)
    ok = _string_field(instruction, "instruction", line, file, issues)
    ok = _string_field(output, "output", line, file, issues) and ok
    if inp not in (None, "") and not _string_field(inp, "input", line, file, issues, required=False):
        ok = False
    if not ok:
        return None
    turns = []
    if isinstance(obj.get("system"), str) and obj["system"].strip():
        turns.append({"role": "system", "content": obj["system"], "_top": True})
    user = instruction if not inp else f"{instruction}\n\n{inp}"
    turns += [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    return turns


def _prompt_completion(obj: dict, line: int, file: str, issues: list[Issue]) -> list[dict] | None:
    prompt, completion = obj.get("prompt", _MISSING), obj.get("completion", _MISSING)
    if isinstance(prompt, list) or isinstance(completion, list):
        p = _messages(prompt, "prompt", line, file, issues) if isinstance(prompt, list) else None
        c = _messages(completion, "completion", line, file, issues) if isinstance(completion, list) else None
        if p is None or c is None:
            if not isinstance(prompt, list) or not isinstance(completion, list):
                issues.append(Issue(line, "prompt" if not isinstance(prompt, list) else "completion", "field_not_string",
                                    "prompt and completion must both be strings or both lists of messages", file))
            return None
        return p + c
    ok = _string_field(prompt, "prompt", line, file, issues)
    ok = _string_field(completion, "completion", line, file, issues) and ok
    if not ok:
        return None
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def canonical(turns: list[dict]) -> list[dict]:
    """Turns without the private `_` markers: exactly what is written to train.jsonl / val.jsonl."""
    return [{k: v for k, v in t.items() if not k.startswith("_")} for t in turns]
