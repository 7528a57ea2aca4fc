"""Train/validation split (the guide: 90/10, seed 42) and optional clean-up fixes. Both read the dataset
twice, streaming (first to decide, then to write), so memory stays bounded; the user's file is never
modified. Output is the canonical `{"messages": [...]}` JSONL the training engine reads.

Split rules: records with errors are left out; exact duplicates are dropped (the first copy is kept);
near duplicates (see `core.data.quality`) are kept but always put on the same side, so nothing leaks;
with `exclude_reviewed_bad`, examples marked bad in the review are left out."""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from core.data.codes import ERROR
from core.data.formats import canonical
from core.data.quality import _fp, near_text
from core.data.reader import ProgressFn
from core.data.review import ReviewMarks
from core.errors import TunewizError


def _fingerprints(turns: list[dict]) -> tuple[int, int]:
    whole = "\x1e".join(f"{t['role']}\x1f{t['content']}" for t in turns)
    return _fp(whole), _fp(near_text(whole))


@dataclass
class SplitResult:
    train_file: Path
    val_file: Path
    train_examples: int
    val_examples: int
    seed: int
    val_fraction: float
    dropped: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"train_file": str(self.train_file), "val_file": str(self.val_file),
                "train_examples": self.train_examples, "val_examples": self.val_examples,
                "seed": self.seed, "val_fraction": self.val_fraction, "dropped": self.dropped}

    def project_summary(self) -> dict:
        return {"train_file": str(self.train_file), "val_file": str(self.val_file),
                "train_examples": self.train_examples, "val_examples": self.val_examples,
                "split_seed": self.seed, "val_fraction": self.val_fraction, "split_dropped": self.dropped}


def split_dataset(path: str | Path, *, val: float = 0.1, seed: int = 42, out: str | Path = ".",
                  exclude_reviewed_bad: bool = False, format: str = "auto", progress: ProgressFn | None = None) -> SplitResult:
    """Write `train.jsonl` and `val.jsonl` into `out`. Raises TunewizError when nothing valid is left."""
    from core.data.check import iter_examples

    if not 0.0 <= val < 1.0:
        raise TunewizError(f"--val {val}: must be at least 0 and below 1 (e.g. 0.1 for 10%)", exit_code=2)
    out = Path(out)
    marks = ReviewMarks(path) if exclude_reviewed_bad else None
    dropped = {"errors": 0, "duplicates": 0, "reviewed_bad": 0}
    seen: set[int] = set()
    keep: list[int] = []  # indexes (in reading order) of kept examples
    groups: list[int] = []  # near-duplicate fingerprint of each kept example
    for index, (record, _fmt, turns, issues) in enumerate(iter_examples(path, format=format, progress=progress)):
        if turns is None or any(i.severity == ERROR for i in issues):
            if record.obj is not None or issues and any(i.severity == ERROR for i in issues):
                dropped["errors"] += 1
            continue
        if marks and marks.is_bad(record.line, record.file):
            dropped["reviewed_bad"] += 1
            continue
        exact, near = _fingerprints(turns)
        if exact in seen:
            dropped["duplicates"] += 1
            continue
        seen.add(exact)
        keep.append(index)
        groups.append(near)
    n = len(keep)
    if n == 0:
        raise TunewizError(f"{path}: no valid examples to split", exit_code=1, hint="run `tunewiz check` to see why")
    n_val = 0 if val == 0 or n < 2 else min(n - 1, max(1, round(n * val)))
    order = list(range(n))
    random.Random(seed).shuffle(order)
    side = bytearray(n)  # 1 = validation
    group_side: dict[int, int] = {}
    val_count = 0
    for pos in order:
        g = groups[pos]
        if g in group_side:
            s = group_side[g]
        else:
            s = 1 if val_count < n_val else 0
            group_side[g] = s
        side[pos] = s
        val_count += s
    wanted = dict(zip(keep, side))
    out.mkdir(parents=True, exist_ok=True)
    train_path, val_path = out / "train.jsonl", out / "val.jsonl"
    src = Path(path).resolve() if Path(path).exists() else None
    if src is not None and src in (train_path.resolve(), val_path.resolve()):
        raise TunewizError(f"{path}: the split would overwrite the dataset itself; pass --out another folder", exit_code=2)
    counts = [0, 0]
    with _AtomicWriter(train_path) as train_fh, _AtomicWriter(val_path) as val_fh:
        for index, (_record, _fmt, turns, _issues) in enumerate(iter_examples(path, format=format)):
            s = wanted.get(index)
            if s is None:
                continue
            (val_fh if s else train_fh).write(json.dumps({"messages": canonical(turns)}, ensure_ascii=False) + "\n")
            counts[s] += 1
    return SplitResult(train_path, val_path, counts[0], counts[1], seed, val, dropped)


class _AtomicWriter:
    """Write to a temporary file beside `path`; replace `path` only when the block ends without error."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        self.fh = os.fdopen(fd, "w", encoding="utf-8")
        return self.fh

    def __exit__(self, exc_type, exc, tb):
        self.fh.close()
        if exc_type is None:
            os.replace(self.tmp, self.path)
        else:
            Path(self.tmp).unlink(missing_ok=True)
        return False
