"""Task metrics for one generated answer against its reference (the guide's "Task accuracy" row).
Pure Python, no model: exact match, normalized contains, JSON validity, per-field JSON match and an
optional user regex. `score_answer` returns every metric that applies; `aggregate` averages them."""

from __future__ import annotations

import json
import re
import string
from typing import Any

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
_SPACE = re.compile(r"\s+")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)

METRIC_NAMES = ("exact_match", "contains", "json_valid", "field_match", "regex")


def normalize(text: str) -> str:
    """Lowercase, drop punctuation, collapse whitespace: 'The  Sky is BLUE.' -> 'the sky is blue'."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.lower())).strip()


def parse_json(text: str) -> Any:
    """The JSON value in `text` (a ```json fence is allowed), or raise ValueError."""
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    return json.loads(text)


def reference_json(reference: str) -> Any | None:
    """The reference parsed as a JSON object or array, or None when it is plain text."""
    try:
        value = parse_json(reference)
    except ValueError:
        return None
    return value if isinstance(value, (dict, list)) else None


def field_match(reference: dict, output: Any) -> float:
    """Share of the reference object's top-level fields that the output object has with equal values."""
    if not reference:
        return 1.0 if output == reference else 0.0
    if not isinstance(output, dict):
        return 0.0
    hits = sum(1 for key, value in reference.items() if key in output and output[key] == value)
    return hits / len(reference)


def score_answer(output: str, reference: str, regex: str | re.Pattern | None = None) -> dict[str, float]:
    """Scores in [0, 1] for one answer: exact_match (after trimming), contains (normalized reference inside
    normalized output), json_valid and field_match when the reference is JSON, regex when one is given."""
    scores: dict[str, float] = {
        "exact_match": float(output.strip() == reference.strip()),
        "contains": float(bool(normalize(reference)) and normalize(reference) in normalize(output)),
    }
    ref = reference_json(reference)
    if ref is not None:
        try:
            out = parse_json(output)
            scores["json_valid"] = 1.0
        except ValueError:
            out = None
            scores["json_valid"] = 0.0
        if isinstance(ref, dict):
            scores["field_match"] = field_match(ref, out)
        else:
            scores["field_match"] = float(out == ref)
    if regex is not None:
        pattern = re.compile(regex) if isinstance(regex, str) else regex
        scores["regex"] = float(pattern.search(output) is not None)
    return scores


def aggregate(score_rows: list[dict[str, float]]) -> dict[str, float | int]:
    """Mean of each metric over the rows where it applies, plus `n` (rows) and `n_json` (JSON references)."""
    out: dict[str, float | int] = {"n": len(score_rows)}
    for name in METRIC_NAMES:
        values = [row[name] for row in score_rows if name in row]
        if values:
            out[name] = sum(values) / len(values)
    out["n_json"] = sum(1 for row in score_rows if "json_valid" in row)
    return out


def compile_regex(regex: str | None) -> re.Pattern | None:
    """Compile the user's regex or raise a TunewizError that says what is wrong with it."""
    if not regex:
        return None
    from core.errors import TunewizError

    try:
        return re.compile(regex)
    except re.error as exc:
        raise TunewizError(f"--regex {regex!r} is not a valid regular expression: {exc}") from None
