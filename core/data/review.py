"""Manual review (the guide: label quality is critical, review a sample). A seeded random sample of valid
examples is paged one at a time; marks (good / bad / skip, with an optional note) are saved beside the
dataset in `<name>.review.json` so they survive restarts, and `split --exclude-reviewed-bad` drops the bad.

File shape: {"dataset": "<path>", "seed": 42, "marks": {"<line>" or "<file name>:<line>": {"mark", "note", "at"}}}."""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from core.data.codes import ERROR, Issue
from core.errors import TunewizError

MARKS = ("good", "bad", "skip")


def review_path(dataset: str | Path) -> Path:
    p = Path(dataset)
    if p.is_dir():
        return p.parent / f"{p.name}.review.json"
    return p.with_name(f"{p.stem}.review.json")


@dataclass
class ReviewItem:
    """One example to review: where it is and its canonical turns (issues are its warnings, if any)."""

    file: str
    line: int
    format: str
    turns: list[dict]
    issues: list[Issue] = field(default_factory=list)


class ReviewMarks:
    """The marks saved beside a dataset. Keys are the line number, prefixed by the file name for folders."""

    def __init__(self, dataset: str | Path, seed: int = 42):
        self.dataset = Path(dataset)
        self.file = review_path(dataset)
        self.is_folder = self.dataset.is_dir()
        self.seed = seed
        self.marks: dict[str, dict] = {}
        if self.file.exists():
            try:
                data = json.loads(self.file.read_text(encoding="utf-8"))
                self.marks = dict(data.get("marks", {}))
                self.seed = int(data.get("seed", seed))
            except (ValueError, AttributeError, TypeError):
                raise TunewizError(f"{self.file}: not a valid review file; delete it to start the review over",
                                   exit_code=2) from None

    def key(self, line: int, file: str | None = None) -> str:
        return f"{Path(file).name}:{line}" if self.is_folder and file else str(line)

    def get(self, line: int, file: str | None = None) -> dict | None:
        return self.marks.get(self.key(line, file))

    def mark(self, line: int, mark: str, note: str | None = None, file: str | None = None) -> None:
        if mark not in MARKS:
            raise ValueError(f"mark must be one of {MARKS}")
        old = self.marks.get(self.key(line, file), {})
        self.marks[self.key(line, file)] = {
            "mark": mark,
            "note": old.get("note", "") if note is None else note,
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        self.save()

    def set_note(self, line: int, note: str, file: str | None = None) -> None:
        entry = self.marks.get(self.key(line, file))
        self.mark(line, entry["mark"] if entry else "skip", note, file)

    def bad_keys(self) -> set[str]:
        return {k for k, v in self.marks.items() if v.get("mark") == "bad"}

    def is_bad(self, line: int, file: str | None = None) -> bool:
        return self.marks.get(self.key(line, file), {}).get("mark") == "bad"

    def counts(self) -> dict[str, int]:
        out = {m: 0 for m in MARKS}
        for v in self.marks.values():
            if v.get("mark") in out:
                out[v["mark"]] += 1
        out["total"] = len(self.marks)
        return out

    def save(self) -> None:
        data = {"dataset": str(self.dataset), "seed": self.seed, "marks": self.marks}
        fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".review.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, ensure_ascii=False)
            os.replace(tmp, self.file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load_review_sample(path: str | Path, *, size: int = 100, seed: int = 42, format: str = "auto") -> list[ReviewItem]:
    """A seeded random sample of up to `size` valid examples, in review order (one streaming pass, reservoir
    sampling: the same file and seed always give the same sample)."""
    from core.data.check import iter_examples

    rng = random.Random(seed)
    reservoir: list[tuple[float, ReviewItem]] = []
    seen = 0
    for record, fmt, turns, issues in iter_examples(path, format=format):
        if turns is None or any(i.severity == ERROR for i in issues):
            continue
        seen += 1
        item = ReviewItem(record.file, record.line, fmt or "", turns, issues)
        if len(reservoir) < size:
            reservoir.append((rng.random(), item))
        else:
            j = rng.randrange(seen)
            if j < size:
                reservoir[j] = (rng.random(), item)
    reservoir.sort(key=lambda pair: pair[0])
    return [item for _, item in reservoir]


def load_example(path: str | Path, line: int, *, file: str | None = None, format: str = "auto") -> ReviewItem | None:
    """The record starting on `line` (in `file`, for folders), valid or not; None if no record starts there."""
    from core.data.check import iter_examples

    for record, fmt, turns, issues in iter_examples(path, format=format):
        if record.line == line and (file is None or Path(record.file).name == Path(file).name):
            return ReviewItem(record.file, record.line, fmt or "", turns or [], issues)
        if record.line > line and file is None and not Path(path).is_dir():
            break
    return None
