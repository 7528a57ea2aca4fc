"""Conversation rules, checked on canonical turns (see `core.data.formats`).

Rules (each a code in `core.data.codes`): the system message, if any, comes first; after it turns go
user, assistant, user, ... (a `tool` turn may follow an assistant turn that calls a tool, and the
assistant may follow a tool turn); there is at least one assistant turn and the last turn is the
assistant's; assistant replies are not empty; other turns are not whitespace only (warning); there is a
user turn (warning). Field paths use the source format's field names so they point into the user's file."""

from __future__ import annotations

from core.data.codes import Issue

_FIELD_BASE = {"messages": "messages", "sharegpt": "conversations"}


def _path(fmt: str, i: int, offset: int) -> str:
    base = _FIELD_BASE.get(fmt)
    if base is None:
        return {"alpaca": ("instruction", "output"), "prompt-completion": ("prompt", "completion")}.get(fmt, ("text", "text"))[
            0 if i - offset == 0 else 1]
    return f"{base}[{i - offset}]"


def check_conversation(turns: list[dict], fmt: str, line: int, file: str) -> list[Issue]:
    """Issues with the shape of one conversation (empty list when it is fine)."""
    if fmt == "text":
        content = turns[0]["content"]
        return [] if content.strip() else [Issue(line, "text", "empty_field", "'text' is whitespace only", file)]
    issues: list[Issue] = []
    # A sharegpt/alpaca top-level system becomes turn 0 without a position in the source list.
    offset = 1 if turns and turns[0].get("_top") else 0
    roles = [t["role"] for t in turns]
    seen_non_system = False
    for i, role in enumerate(roles):
        if role == "system":
            if seen_non_system:
                issues.append(Issue(line, _path(fmt, i, offset) + _role_suffix(fmt), "system_not_first",
                                    f"a system message at position {i - offset} follows other turns", file))
        else:
            seen_non_system = True
    if "assistant" not in roles:
        issues.append(Issue(line, _FIELD_BASE.get(fmt, ""), "no_assistant_turn", "the conversation has no assistant turn", file))
    elif roles[-1] != "assistant":
        issues.append(Issue(line, _path(fmt, len(roles) - 1, offset) + _role_suffix(fmt), "last_turn_not_assistant",
                            f"the last turn is from {roles[-1]!r}, not the assistant", file))
    if "user" not in roles:
        issues.append(Issue(line, _FIELD_BASE.get(fmt, ""), "no_user_turn", "the conversation has no user turn", file))
    prev = None
    for i, turn in enumerate(turns):
        role = turn["role"]
        if role == "system":
            continue
        bad = (
            (prev is None and role != "user")
            or (prev == "user" and role != "assistant")
            or (prev == "assistant" and role == "assistant")
            or (prev == "assistant" and role == "tool" and not turns[i - 1].get("_tool_call"))
            or (prev == "tool" and role == "user")
        )
        if bad and "user" in roles:
            want = "user" if prev is None else ("assistant" if prev in ("user", "tool") else "user")
            issues.append(Issue(line, _path(fmt, i, offset) + _role_suffix(fmt), "roles_not_alternating",
                                f"turn {i - offset} is from {role!r} but {want!r} was expected"
                                + ("" if prev is None else f" after {prev!r}"), file))
            break
        prev = role
    for i, turn in enumerate(turns):
        content = turn["content"]
        if content.strip():
            continue
        field = _path(fmt, i, offset) + _content_suffix(fmt)
        if turn["role"] == "assistant":
            if not turn.get("_tool_call"):
                issues.append(Issue(line, field, "empty_assistant_turn", "the assistant reply is empty" +
                                    (" (whitespace only)" if content else ""), file))
        else:
            issues.append(Issue(line, field, "whitespace_turn", f"the {turn['role']} turn is empty"
                                + (" (whitespace only)" if content else ""), file))
    return issues


def _role_suffix(fmt: str) -> str:
    return {"messages": ".role", "sharegpt": ".from"}.get(fmt, "")


def _content_suffix(fmt: str) -> str:
    return {"messages": ".content", "sharegpt": ".value"}.get(fmt, "")
