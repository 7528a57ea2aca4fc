"""Optional fixes, previewed before they run: `plan_clean` counts what each fix would change, `apply_clean`
writes the result to a new JSONL file (the input is never modified).

Fixes: drop_invalid (records with errors), drop_duplicates (exact copies after the first), drop_bad
(examples marked bad in the review), strip_whitespace (leading/trailing whitespace of every turn),
to_messages (write every record in the canonical messages format). Records that cannot be parsed at all
(invalid JSON or UTF-8) can never be written back and are always dropped; the plan counts them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from core.data.codes import ERROR
from core.data.formats import canonical
from core.data.review import ReviewMarks
from core.data.split import _AtomicWriter, _fingerprints
from core.errors import TunewizError

FIXES = ("drop_invalid", "drop_duplicates", "drop_bad", "strip_whitespace", "to_messages")


@dataclass
class CleanPlan:
    fixes: tuple[str, ...]
    records_in: int = 0
    records_out: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    out_file: Path | None = None

    def describe(self) -> list[str]:
        labels = {"unreadable": "unreadable lines dropped (always)", "drop_invalid": "records with errors dropped",
                  "drop_duplicates": "duplicates dropped", "drop_bad": "examples marked bad dropped",
                  "strip_whitespace": "records with whitespace stripped", "to_messages": "records converted to messages"}
        return [f"{labels[k]}: {v}" for k, v in self.changes.items()] + [f"{self.records_in} records in, "
                                                                         f"{self.records_out} out"]

    def to_json(self) -> dict:
        return {"fixes": list(self.fixes), "records_in": self.records_in, "records_out": self.records_out,
                "changes": self.changes, "out_file": str(self.out_file) if self.out_file else None}


def default_clean_path(path: str | Path) -> Path:
    p = Path(path)
    return (p.parent / f"{p.name}.clean.jsonl") if p.is_dir() else p.with_name(f"{p.stem}.clean.jsonl")


def _run(path, fixes, format, write_to):
    from core.data.check import iter_examples

    unknown = set(fixes) - set(FIXES)
    if unknown:
        raise TunewizError(f"unknown fix {', '.join(sorted(unknown))}; known: {', '.join(FIXES)}", exit_code=2)
    plan = CleanPlan(tuple(fixes), changes={"unreadable": 0, **{f: 0 for f in fixes}})
    marks = ReviewMarks(path) if "drop_bad" in fixes else None
    seen: set[int] = set()
    for record, _fmt, turns, issues in iter_examples(path, format=format):
        if record.obj is None:
            if any(i.severity == ERROR for i in issues):
                plan.records_in += 1
                plan.changes["unreadable"] += 1
            continue
        plan.records_in += 1
        has_error = turns is None or any(i.severity == ERROR for i in issues)
        if has_error and "drop_invalid" in fixes:
            plan.changes["drop_invalid"] += 1
            continue
        if marks and marks.is_bad(record.line, record.file):
            plan.changes["drop_bad"] += 1
            continue
        if turns is not None and "drop_duplicates" in fixes:
            exact, _ = _fingerprints(turns)
            if exact in seen:
                plan.changes["drop_duplicates"] += 1
                continue
            seen.add(exact)
        obj = record.obj
        if "to_messages" in fixes and turns is not None:
            plan.changes["to_messages"] += 1
            obj = {"messages": canonical(turns)}
        if "strip_whitespace" in fixes:
            obj, changed = _strip(obj)
            plan.changes["strip_whitespace"] += changed
        plan.records_out += 1
        if write_to is not None:
            write_to.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return plan


def _strip(obj):
    """Strip string values of the record's text fields and of message contents; returns (obj, 1 if changed)."""
    changed = 0

    def s(v):
        nonlocal changed
        if isinstance(v, str) and v != v.strip():
            changed = 1
            return v.strip()
        return v

    if not isinstance(obj, dict):
        return obj, 0
    out = {}
    for k, v in obj.items():
        if k in ("messages", "conversations") and isinstance(v, list):
            out[k] = [{mk: (s(mv) if mk in ("content", "value") else mv) for mk, mv in m.items()}
                      if isinstance(m, dict) else m for m in v]
        else:
            out[k] = s(v) if k in ("text", "prompt", "completion", "instruction", "input", "output", "system") else v
    return out, changed


def plan_clean(path: str | Path, fixes: list[str] | tuple[str, ...], *, format: str = "auto") -> CleanPlan:
    """What the fixes would do, without writing anything."""
    return _run(path, fixes, format, None)


def apply_clean(path: str | Path, fixes: list[str] | tuple[str, ...], *, out: str | Path | None = None,
                format: str = "auto") -> CleanPlan:
    """Apply the fixes and write the result to `out` (default `<name>.clean.jsonl` beside the input)."""
    out_path = Path(out) if out else default_clean_path(path)
    if Path(path).exists() and out_path.resolve() == Path(path).resolve():
        raise TunewizError(f"{out_path}: refusing to overwrite the input; choose another --out", exit_code=2)
    with _AtomicWriter(out_path) as fh:
        plan = _run(path, fixes, format, fh)
    plan.out_file = out_path
    return plan
