"""The check report: issues grouped by code, statistics, the verdict, and its JSON and text forms.

`CheckReport.to_json()` is the documented `tunewiz check --json` shape:
`{"path", "format", "examples", "errors": [{"line", "field", "code", "message"}], "warnings": [same], "stats",
"verdict"}` (issues also carry "file" when the input is a folder). `verdict` is one of `fix_errors` (errors
found), `too_few_examples` (fewer than 100 valid examples), `ready_with_warnings`, `ready`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.data.codes import CODES, ERROR, WARNING, Issue
from core.data.tokens import recommend_max_seq_len

VERDICT_TEXT = {
    "fix_errors": "Fix the errors before training",
    "too_few_examples": "Too few examples to fine-tune well",
    "ready_with_warnings": "Usable; review the warnings",
    "ready": "Ready to train",
}


class IssueLog:
    """Counts every issue per code; keeps the first `cap` of each code with full details."""

    def __init__(self, cap: int = 1000):
        self.cap = cap
        self.counts: Counter[str] = Counter()
        self.first_lines: dict[str, list[int]] = {}
        self.kept: list[Issue] = []

    def add(self, issue: Issue) -> None:
        n = self.counts[issue.code]
        self.counts[issue.code] = n + 1
        if n < self.cap:
            self.kept.append(issue)
            if n < 10 and issue.line is not None:
                self.first_lines.setdefault(issue.code, []).append(issue.line)

    def add_uncounted(self, code: str, n: int) -> None:
        """Count `n` more issues of `code` whose details were not kept (a scan's cap already dropped them)."""
        self.counts[code] += n

    @property
    def error_count(self) -> int:
        return sum(c for code, c in self.counts.items() if CODES[code].severity == ERROR)

    @property
    def warning_count(self) -> int:
        return sum(c for code, c in self.counts.items() if CODES[code].severity == WARNING)

    def grouped(self) -> list[dict]:
        """One entry per code, errors first, then by count: code, severity, count, first_lines, title, fix."""
        rows = [{"code": code, "severity": CODES[code].severity, "count": count,
                 "first_lines": self.first_lines.get(code, []), "title": CODES[code].title, "fix": CODES[code].fix}
                for code, count in self.counts.items()]
        rows.sort(key=lambda r: (r["severity"] != ERROR, -r["count"], r["code"]))
        return rows


def _percentiles(values) -> dict[str, int]:
    import numpy as np

    if len(values) == 0:
        return {"p50": 0, "p90": 0, "p99": 0, "max": 0, "mean": 0}
    arr = np.frombuffer(values, dtype=np.int64) if hasattr(values, "typecode") else np.asarray(values)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99], method="higher")
    return {"p50": int(p50), "p90": int(p90), "p99": int(p99), "max": int(arr.max()), "mean": round(float(arr.mean()), 1)}


def token_stats(ex_tokens, reply_tokens, over: dict, max_seq_len: int, method: str, exact: bool) -> dict:
    import numpy as np

    per_example = _percentiles(ex_tokens)
    n = len(ex_tokens)
    if n:
        arr = np.frombuffer(ex_tokens, dtype=np.int64)
        # A few very long outliers would squash the plot into one bar: clip at 2x p99 and count the rest.
        upper = int(arr.max())
        if upper > 2 * per_example["p99"] and per_example["p99"] > 0:
            upper = 2 * per_example["p99"]
        shown = arr[arr <= upper]
        upper = int(shown.max())
        lo = int(shown.min())
        counts, edges = np.histogram(shown, bins=max(1, min(20, upper - lo + 1)), range=(lo, max(upper, lo + 1)))
        hist = {"bin_edges": [round(float(e), 1) for e in edges], "counts": [int(c) for c in counts],
                "overflow": int(n - len(shown))}
    else:
        hist = {"bin_edges": [], "counts": [], "overflow": 0}
    return {
        "method": method,
        "exact": exact,
        "per_example": per_example,
        "per_reply": _percentiles(reply_tokens),
        "max_seq_len": max_seq_len,
        "over_max": {"count": over["count"], "share": round(over["count"] / n, 4) if n else 0.0,
                     "tokens_cut": over["tokens_cut"]},
        "recommended_max_seq_len": recommend_max_seq_len(per_example["p99"], per_example["max"]) if n else max_seq_len,
        "histogram": hist,
    }


@dataclass
class CheckReport:
    path: str
    format: str
    examples: int
    log: IssueLog
    stats: dict[str, Any]
    verdict: str
    with_file: bool = False
    max_seq_len: int = 2048
    issues: list[Issue] = field(init=False)

    def __post_init__(self) -> None:
        self.issues = sorted(self.log.kept, key=lambda i: (i.file or "", i.line if i.line is not None else 0))

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def error_count(self) -> int:
        return self.log.error_count

    @property
    def warning_count(self) -> int:
        return self.log.warning_count

    @property
    def valid_examples(self) -> int:
        return self.stats["valid_examples"]

    @property
    def recommended_max_seq_len(self) -> int:
        return self.stats["tokens"]["recommended_max_seq_len"]

    @property
    def exit_code(self) -> int:
        return 1 if self.error_count else 0

    def error_lines(self) -> set[tuple[str | None, int]]:
        return {(i.file, i.line) for i in self.errors if i.line is not None}

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "format": self.format,
            "examples": self.examples,
            "errors": [i.to_json(self.with_file) for i in self.errors],
            "warnings": [i.to_json(self.with_file) for i in self.warnings],
            "stats": self.stats,
            "verdict": self.verdict,
        }

    def project_summary(self) -> dict:
        """The keys the Data step and `tunewiz check` record in `project.state.data`."""
        t = self.stats["tokens"]["per_example"]
        return {
            "path": self.path,
            "format": self.format,
            "examples": self.examples,
            "valid_examples": self.valid_examples,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "verdict": self.verdict,
            "recommended_max_seq_length": self.recommended_max_seq_len,
            "token_stats": {k: t[k] for k in ("p50", "p90", "p99", "max")},
            "token_method": "exact" if self.stats["tokens"]["exact"] else "estimate",
        }
