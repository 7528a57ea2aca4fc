"""Quality statistics gathered while streaming: duplicates, conflicting answers, system prompts, reply
format, user openings, secrets, token lengths. Memory is about 60 bytes per valid example (four 8-byte
fingerprints, its line and order key, token counts), never the text; the per-example work is in
`core.data.scan`, the cross-example part (duplicates, capped counters) in `core.data.merge`.

Duplicate methods:
- exact: the canonical conversation (roles and contents) is identical (blake2b-64 fingerprint).
- near: identical after lowercasing, removing punctuation and collapsing whitespace (threshold:
  100% equal normalized text). It catches copies that differ in case, spacing or punctuation; reworded paraphrases are not detected.
- leakage: an exact duplicate whose copies are in a train-named and a val/valid/validation/test-named file.
"""

from __future__ import annotations

import re
from collections import Counter
from hashlib import blake2b
from pathlib import Path

from core.data.codes import Issue
from core.data.secrets import is_secret

_WORD = re.compile(r"[^\W_]+")

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


def file_role(file: str) -> str | None:
    stem = Path(file).stem.lower()
    if stem.startswith("train"):
        return "train"
    if stem.startswith(("val", "valid", "validation", "test", "eval", "dev")):
        return "val"
    return None


class QualityStats:
    """The merged quality counters of a check (filled by `core.data.merge` from the scans of
    `core.data.scan`); `finish()` returns (stats, extra issues)."""

    def __init__(self) -> None:
        self.n = 0
        self.exact_count = self.near_count = self.conflict_count = self.leak_count = 0
        self.systems: Counter[str] = Counter()
        self.with_system = 0
        self.json_replies = 0
        self.non_json_lines: list[tuple[str, int]] = []
        self.non_json_count = 0
        self.replies = 0
        self.openings: Counter[str] = Counter()
        self.sensitive: Counter[str] = Counter()
        self.sensitive_lines: list[int] = []

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
