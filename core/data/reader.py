"""Reading datasets record by record, with the physical line each record starts on.

JSONL and CSV are streamed (memory stays bounded however large the file); a JSON array is parsed whole
(use JSONL for very large data); Parquet is read in batches; a folder yields its supported files in
name order; a Hugging Face dataset id is streamed through `datasets` (imported only then).
`progress(bytes_done, bytes_total)` is called about every megabyte."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from core.data.codes import Issue
from core.errors import TunewizError

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
ProgressFn = Callable[[int, int], None]
_PROGRESS_STEP = 1 << 20
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(slots=True)
class Record:
    """One record as read: `obj` is the decoded value, or None when the line could not be decoded (then
    `issues` says why). Blank lines and the BOM come as records with obj None and a warning."""

    file: str
    line: int
    obj: Any = None
    issues: list[Issue] = field(default_factory=list)


@dataclass
class Source:
    """What `open_source` resolved: the files to read (or a hub id) and their total size for progress."""

    label: str
    files: list[Path]
    hub_id: str | None = None

    @property
    def total_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.files)

    @property
    def is_folder(self) -> bool:
        return len(self.files) > 1 or (bool(self.files) and Path(self.label).is_dir())


def open_source(path: str | Path) -> Source:
    """Resolve a path or hub id; raise TunewizError (exit 2) when there is nothing readable."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES
                       and not f.name.endswith(".review.json"))
        if not files:
            raise TunewizError(f"{p}: folder has no dataset files ({', '.join(SUPPORTED_SUFFIXES)})",
                               exit_code=2, hint="point at a .jsonl/.json/.csv/.parquet file or a folder of them")
        return Source(str(p), files)
    if p.is_file():
        if p.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise TunewizError(f"{p}: unsupported file type {p.suffix or '(none)'!r}; use one of "
                               f"{', '.join(SUPPORTED_SUFFIXES)}", exit_code=2)
        if p.stat().st_size == 0:
            raise TunewizError(f"{p}: file is empty", exit_code=2, hint="a dataset needs at least one example")
        return Source(str(p), [p])
    if not p.exists() and _HUB_ID.match(str(path)) and not str(path).startswith((".", "/")):
        return Source(str(path), [], hub_id=str(path))
    raise TunewizError(f"{p}: no such file or folder", exit_code=2)


def iter_records(source: Source, progress: ProgressFn | None = None) -> Iterator[Record]:
    """Yield every record of every file of `source`, in order."""
    if source.hub_id:
        yield from _iter_hub(source.hub_id)
        return
    total = source.total_bytes
    done = 0
    for f in source.files:
        reader = {".jsonl": _iter_jsonl, ".json": _iter_json, ".csv": _iter_csv, ".parquet": _iter_parquet}[f.suffix.lower()]
        yield from reader(f, done, total, progress)
        done += f.stat().st_size
    if progress:
        progress(total, total)


def _iter_jsonl(path: Path, base: int, total: int, progress: ProgressFn | None) -> Iterator[Record]:
    name = str(path)
    loads = json.loads
    JSONDecodeError = json.JSONDecodeError
    done = base
    next_report = base + _PROGRESS_STEP
    with open(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            done += len(raw)
            if progress and done >= next_report:
                progress(done, total)
                next_report = done + _PROGRESS_STEP
            issues: list[Issue] = []
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
                issues.append(bom_issue(name))
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                issues.append(invalid_utf8_issue(line_no, raw, exc, done - len(raw), name))
                yield Record(name, line_no, None, issues)
                continue
            if not text.strip():
                issues.append(blank_line_issue(line_no, name))
                yield Record(name, line_no, None, issues)
                continue
            try:
                obj = loads(text)
            except JSONDecodeError as exc:
                issues.append(invalid_json_issue(line_no, text, exc, name))
                yield Record(name, line_no, None, issues)
                continue
            except RecursionError:
                issues.append(too_deep_issue(line_no, name))
                yield Record(name, line_no, None, issues)
                continue
            yield Record(name, line_no, obj, issues)


def _near(text: str, pos: int) -> str:
    snippet = text[max(0, pos - 15):pos + 15].strip()
    return f" (near {snippet!r})" if snippet else ""


# Per-line issues of a JSONL file, shared by this reader and the fast scanner (core.data.scan) so the
# two report the same words for the same line.
def bom_issue(name: str) -> Issue:
    return Issue(1, "", "byte_order_mark", "the file starts with a UTF-8 byte-order mark", name)


def invalid_utf8_issue(line_no: int, raw: bytes, exc: UnicodeDecodeError, line_offset: int, name: str) -> Issue:
    """`line_offset`: where the (BOM-stripped) line starts in the file."""
    return Issue(line_no, "", "invalid_utf8",
                 f"byte {exc.start + 1} of the line (offset {line_offset + exc.start} in the file) "
                 f"is not valid UTF-8 ({raw[exc.start:exc.start + 1]!r})", name)


def blank_line_issue(line_no: int, name: str) -> Issue:
    return Issue(line_no, "", "blank_line", "blank line (skipped)", name)


def invalid_json_issue(line_no: int, text: str, exc: json.JSONDecodeError, name: str) -> Issue:
    return Issue(line_no, "", "invalid_json", f"invalid JSON at column {exc.colno}: {exc.msg}{_near(text, exc.pos)}", name)


def too_deep_issue(line_no: int, name: str) -> Issue:
    return Issue(line_no, "", "invalid_json", "invalid JSON: nested too deeply to read", name)


def _iter_json(path: Path, base: int, total: int, progress: ProgressFn | None) -> Iterator[Record]:
    """A .json file: an array of records (parsed whole), or JSON lines saved with a .json name."""
    name = str(path)
    data = path.read_bytes()
    issues: list[Issue] = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        issues.append(bom_issue(name))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield Record(name, line, None, issues + [Issue(line, "", "invalid_utf8",
                     f"byte offset {exc.start} is not valid UTF-8; the rest of the file cannot be read", name)])
        return
    stripped = text.lstrip()
    if not stripped.startswith("["):
        yield from _iter_jsonl(path, base, total, progress)
        return
    decoder = json.JSONDecoder()
    pos = len(text) - len(stripped) + 1
    line, counted_to = 1, 0
    ws = " \t\r\n"
    expect_value = True
    while True:
        while pos < len(text) and text[pos] in ws:
            pos += 1
        if pos >= len(text):
            line += text.count("\n", counted_to, pos)
            yield Record(name, line, None, issues + [Issue(line, "", "invalid_json", "the array is not closed with ']'", name)])
            return
        if text[pos] == "]":
            break
        if not expect_value:
            if text[pos] != ",":
                err_line = text.count("\n", 0, pos) + 1
                yield Record(name, err_line, None, issues + [Issue(err_line, "", "invalid_json",
                             "expected ',' or ']' between records; the rest of the array cannot be read", name)])
                return
            pos += 1
            expect_value = True
            continue
        line += text.count("\n", counted_to, pos)
        counted_to = pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (json.JSONDecodeError, RecursionError) as exc:
            epos = getattr(exc, "pos", pos)
            err_line = text.count("\n", 0, epos) + 1
            col = epos - text.rfind("\n", 0, epos)
            msg = getattr(exc, "msg", "nested too deeply")
            yield Record(name, err_line, None, issues + [Issue(err_line, "", "invalid_json",
                         f"invalid JSON at column {col}: {msg}; the rest of the array cannot be read", name)])
            return
        yield Record(name, line, obj, issues)
        issues = []
        expect_value = False
        pos = end
    if progress:
        progress(base + len(data), total)


def _iter_csv(path: Path, base: int, total: int, progress: ProgressFn | None) -> Iterator[Record]:
    name = str(path)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    with open(path, "r", encoding="utf-8-sig", newline="") as fh:
        try:
            reader = csv.reader(fh)
            header = next(reader, None)
            if not header:
                return
            prev_end = reader.line_num
            for row in reader:
                start = prev_end + 1
                prev_end = reader.line_num
                if not any(cell.strip() for cell in row):
                    yield Record(name, start, None, [Issue(start, "", "blank_line", "blank row (skipped)", name)])
                    continue
                if len(row) != len(header):
                    yield Record(name, start, None, [Issue(start, "", "csv_malformed",
                                 f"row has {len(row)} columns but the header has {len(header)}", name)])
                    continue
                obj = dict(zip(header, row))
                if isinstance(obj.get("messages"), str) and obj["messages"].lstrip().startswith("["):
                    try:
                        obj["messages"] = json.loads(obj["messages"])
                    except json.JSONDecodeError as exc:
                        yield Record(name, start, None, [Issue(start, "messages", "invalid_json",
                                     f"the messages column is not valid JSON (column {exc.colno}: {exc.msg})", name)])
                        continue
                yield Record(name, start, obj, [])
        except UnicodeDecodeError as exc:
            line = (reader.line_num or 0) + 1
            yield Record(name, line, None, [Issue(line, "", "invalid_utf8",
                         f"not valid UTF-8 near line {line} ({exc.reason}); the rest of the file cannot be read", name)])
        except csv.Error as exc:
            line = reader.line_num or 1
            yield Record(name, line, None, [Issue(line, "", "csv_malformed", f"unreadable CSV: {exc}", name)])
    if progress:
        progress(base + os.path.getsize(path), total)


def _iter_parquet(path: Path, base: int, total: int, progress: ProgressFn | None) -> Iterator[Record]:
    import pyarrow.parquet as pq

    name = str(path)
    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises many types for a corrupt file
        raise TunewizError(f"{path}: not a readable Parquet file ({exc})", exit_code=2) from None
    row = 0
    size = os.path.getsize(path)
    n_rows = max(pf.metadata.num_rows, 1)
    for batch in pf.iter_batches(batch_size=2048):
        for obj in batch.to_pylist():
            row += 1
            yield Record(name, row, obj, [])
        if progress:
            progress(base + int(size * row / n_rows), total)


def _iter_hub(dataset_id: str) -> Iterator[Record]:
    try:
        import datasets

        ds = datasets.load_dataset(dataset_id, split="train", streaming=True)
    except Exception as exc:
        raise TunewizError(f"{dataset_id}: could not load this Hugging Face dataset ({type(exc).__name__}: {exc})",
                           exit_code=2, hint="check the id and your connection, or download it and pass the file") from None
    for row, obj in enumerate(ds, start=1):
        yield Record(dataset_id, row, obj, [])


def read_raw_line(path: str | Path, line: int, limit: int = 20000) -> str:
    """The text of physical line `line` (1-based) of a file, for showing a problem in context."""
    with open(path, "rb") as fh:
        for i, raw in enumerate(fh, start=1):
            if i == line:
                text = raw[:limit].decode("utf-8", errors="replace").rstrip("\r\n")
                return text + (" ..." if len(raw) > limit else "")
    return ""
