"""Quality statistics gathered while streaming: duplicates, conflicting answers, system prompts, reply
format, user openings, secrets, token lengths. Memory is a few dozen bytes per example (hashes and
lengths), never the text.

Duplicate methods:
- exact: the canonical conversation (roles and contents) is identical (blake2b-64 fingerprint).
- near: identical after lowercasing, removing punctuation and collapsing whitespace (threshold:
  100% equal normalized text). It catches copies that differ in case, spacing or punctuation; reworded paraphrases are not detected.
- leakage: an exact duplicate whose copies are in a train-named and a val/valid/validation/test-named file.
"""

from __future__ import annotations

import json
import re
from array import array
from collections import Counter
from hashlib import blake2b
from pathlib import Path

from core.data.codes import Issue
from core.data.secrets import find_sensitive, is_secret

_WORD = re.compile(r"[^\W_]+")
_MAX_DISTINCT = 20000
_MAX_LINES = 1000

QUANTITY_TABLE = [  # the guide's Data Quantity table
    (50, "too few: the guide says don't fine-tune with fewer than 100 examples; collect more or use prompting"),
    (100, "50-100 examples: minimal effect (the guide: don't fine-tune with fewer than 100)"),
    (500, "100-500 examples: noticeable improvement"),
    (2000, "500-2000 examples: good results"),
    (10000, "2000-10000 examples: excellent"),
    (None, "10000+ examples: diminishing returns from more data"),
]


def quantity_verdict(n: int) -> str:
    for upper, text in QUANTITY_TABLE:
        if upper is None or n < upper:
            return text
    return QUANTITY_TABLE[-1][1]


def _fp(text: str) -> int:
    return int.from_bytes(blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")


def near_text(text: str) -> str:
    """The text compared for near duplicates: lowercased words, punctuation and spacing dropped."""
    return " ".join(_WORD.findall(text.lower()))


def _role(file: str) -> str | None:
    stem = Path(file).stem.lower()
    if stem.startswith("train"):
        return "train"
    if stem.startswith(("val", "valid", "validation", "test", "eval", "dev")):
        return "val"
    return None


class QualityStats:
    """Feed each valid example with `add(file, line, turns)`; `finish()` returns (stats, extra issues)."""

    def __init__(self) -> None:
        self.n = 0
        self.exact: dict[int, tuple[str, int]] = {}
        self.near: dict[int, int] = {}
        self.prompts: dict[int, tuple[int, int]] = {}
        self.exact_count = self.near_count = self.conflict_count = self.leak_count = 0
        self.exact_groups: list[list[int]] = []
        self.systems: Counter[str] = Counter()
        self.with_system = 0
        self.json_replies = 0
        self.non_json_lines: list[tuple[str, int]] = []
        self.non_json_count = 0
        self.replies = 0
        self.openings: Counter[str] = Counter()
        self.sensitive: Counter[str] = Counter()
        self.sensitive_lines: list[int] = []
        self.lines = array("q")

    def add(self, file: str, line: int, turns: list[dict]) -> list[Issue]:
        issues: list[Issue] = []
        self.n += 1
        self.lines.append(line)
        whole = "\x1e".join(f"{t['role']}\x1f{t['content']}" for t in turns)
        fp = _fp(whole)
        first = self.exact.get(fp)
        if first is not None:
            self.exact_count += 1
            ffile, fline = first
            if _role(ffile) == "train" and _role(file) == "val" or _role(ffile) == "val" and _role(file) == "train":
                self.leak_count += 1
                issues.append(Issue(line, "", "leakage", f"the same example is in {Path(ffile).name} line {fline}", file))
            else:
                where = f"line {fline}" if ffile == file else f"{Path(ffile).name} line {fline}"
                issues.append(Issue(line, "", "duplicate", f"exact duplicate of {where}", file))
        else:
            self.exact[fp] = (file, line)
            near_fp = _fp(near_text(whole))
            near_first = self.near.get(near_fp)
            if near_first is not None:
                self.near_count += 1
                issues.append(Issue(line, "", "near_duplicate", f"near duplicate of line {near_first} (same text "
                                    "ignoring case, punctuation and spacing)", file))
            else:
                self.near[near_fp] = line
            # Same prompt, different answer: the prompt is everything before the last assistant turn.
            last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=None)
            if last is not None and last > 0:
                pfp = _fp("\x1e".join(f"{t['role']}\x1f{t['content']}" for t in turns[:last]))
                afp = _fp(turns[last]["content"].strip())
                seen = self.prompts.get(pfp)
                if seen is None:
                    self.prompts[pfp] = (afp, line)
                elif seen[0] != afp:
                    self.conflict_count += 1
                    issues.append(Issue(line, "", "conflicting_answers",
                                        f"same prompt as line {seen[1]} but a different answer", file))
        system = next((t["content"] for t in turns if t["role"] == "system"), None)
        if system is not None:
            self.with_system += 1
            if len(self.systems) < _MAX_DISTINCT or system in self.systems:
                self.systems[system] += 1
        user = next((t["content"] for t in turns if t["role"] == "user"), None)
        if user is not None and len(self.openings) < _MAX_DISTINCT:
            self.openings[" ".join(user.lower().split()[:3])] += 1
        for t in turns:
            if t["role"] != "assistant":
                continue
            self.replies += 1
            c = t["content"].strip()
            if c[:1] in ("{", "[") and _is_json(c):
                self.json_replies += 1
            else:
                self.non_json_count += 1
                if len(self.non_json_lines) < _MAX_LINES:
                    self.non_json_lines.append((file, line))
        for t in turns if find_sensitive(whole) else ():
            for kind, masked in find_sensitive(t["content"]):
                self.sensitive[kind] += 1
                if len(self.sensitive_lines) < _MAX_LINES:
                    self.sensitive_lines.append(line)
                code = "secret" if is_secret(kind) else "personal_data"
                issues.append(Issue(line, "", code, f"{kind.replace('_', ' ')} in a {t['role']} turn ({masked})", file))
        return issues

    def finish(self) -> tuple[dict, list[Issue]]:
        extra: list[Issue] = []
        json_share = self.json_replies / self.replies if self.replies else 0.0
        if 0.5 <= json_share < 1.0:
            for file, line in self.non_json_lines:
                extra.append(Issue(line, "", "reply_format_inconsistent",
                                   f"{json_share:.0%} of assistant replies are JSON but this one is not", file))
        top_open = self.openings.most_common(5)
        n_open = sum(self.openings.values()) or 1
        secrets = {k: v for k, v in self.sensitive.items() if is_secret(k)}
        pii = {k: v for k, v in self.sensitive.items() if not is_secret(k)}
        stats = {
            "duplicates": {
                "exact": self.exact_count,
                "near": self.near_count,
                "method": "exact: identical conversation (blake2b-64 fingerprint); near: identical after lowercasing, "
                          "punctuation removed, whitespace collapsed (threshold: 100% equal normalized text)",
            },
            "conflicting_answers": self.conflict_count,
            "leakage": self.leak_count,
            "system_prompts": {
                "with_system": self.with_system,
                "share": round(self.with_system / self.n, 4) if self.n else 0.0,
                "distinct": len(self.systems),
                "top": [{"text": t[:120], "count": c} for t, c in self.systems.most_common(3)],
                "consistent": len(self.systems) <= 1 and (self.with_system in (0, self.n)),
            },
            "reply_format": {
                "replies": self.replies,
                "json_share": round(json_share, 4),
                "inconsistent": 0.5 <= json_share < 1.0,
            },
            "openings": {
                "distinct": len(self.openings),
                "distinct_share": round(len(self.openings) / n_open, 4),
                "top": [{"opening": o, "count": c, "share": round(c / n_open, 4)} for o, c in top_open],
                "low_diversity": bool(top_open) and self.n >= 20 and top_open[0][1] / n_open > 0.5,
            },
            "secrets": {"count": sum(secrets.values()), "by_kind": secrets},
            "personal_data": {"count": sum(pii.values()), "by_kind": pii},
            "sensitive_lines": sorted(set(self.sensitive_lines))[:50],
        }
        return stats, extra


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False
