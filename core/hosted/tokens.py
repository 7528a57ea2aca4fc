"""Token counts for cost estimates and length limits. With `tiktoken` installed (and its encoding cached)
OpenAI models are counted exactly; otherwise, and for Together's many tokenizers, a documented
approximation is used: ceil(characters / 4) per text, plus OpenAI's chat framing (3 tokens per message,
1 per `name`, 3 to prime the reply). Estimates say which counter they used."""

from __future__ import annotations

import math
from typing import Any, Callable

CHARS_PER_TOKEN = 4
PER_MESSAGE = 3
PER_NAME = 1
REPLY_PRIMING = 3


def approx_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def text_counter(provider: str, model: str, prefer: str = "auto") -> tuple[Callable[[str], int], str]:
    """A function counting tokens in a text, and its name ("tiktoken:<encoding>" or "approx")."""
    if prefer != "approx" and provider == "openai":
        import importlib.util

        if importlib.util.find_spec("tiktoken") is not None:
            try:
                import tiktoken

                name = "cl100k_base" if model.removeprefix("ft:").startswith("gpt-3.5") else "o200k_base"
                enc = tiktoken.get_encoding(name)
                return (lambda text: len(enc.encode(text, disallowed_special=()))), f"tiktoken:{name}"
            except Exception:  # encoding not cached and no network: fall back to the approximation
                pass
    return approx_tokens, "approx"


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: count the text parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


def example_tokens(row: dict[str, Any], count: Callable[[str], int]) -> int:
    """Tokens in one training example in any supported format (chat, prompt/completion, text)."""
    import json

    if isinstance(row.get("messages"), list):
        total = REPLY_PRIMING
        for msg in row["messages"]:
            if not isinstance(msg, dict):
                continue
            total += PER_MESSAGE + count(str(msg.get("role", ""))) + count(_content_text(msg.get("content")))
            if msg.get("name"):
                total += PER_NAME + count(str(msg["name"]))
            for key in ("tool_calls", "function_call"):
                if msg.get(key):
                    total += count(json.dumps(msg[key]))
        if row.get("tools"):
            total += count(json.dumps(row["tools"]))
        return total
    if "prompt" in row or "completion" in row:
        return count(str(row.get("prompt", ""))) + count(str(row.get("completion", "")))
    if "text" in row:
        return count(str(row.get("text", "")))
    return 0
