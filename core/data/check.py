"""`check_dataset`: read a dataset once, streaming, and report every problem with its line, plus the
quality statistics. The CLI (`tunewiz check`) and the wizard's Data step both call this."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from core.data.codes import Issue
from core.data.formats import FORMATS, detect_format, majority_format, normalize
from core.data.merge import merge_scans
from core.data.parallel import scan_jsonl_parallel
from core.data.quality import quantity_verdict
from core.data.reader import (ProgressFn, Record, _iter_csv, _iter_json, _iter_jsonl, _iter_parquet, iter_records,
                              open_source)
from core.data.report import CheckReport, IssueLog, token_stats
from core.data.scan import ORDER_SHIFT, Scan, jsonl_window_format
from core.data.tokens import TokenCounter
from core.data.validate import check_conversation
from core.errors import TunewizError

_DETECT_WINDOW = 200
_READERS = {".jsonl": _iter_jsonl, ".json": _iter_json, ".csv": _iter_csv, ".parquet": _iter_parquet}


def _scan_source(source, files: list[str], format: str, counter: TokenCounter, max_seq_len: int, cap: int,
                 progress: ProgressFn | None, formats_by_file: dict, workers: int | None) -> list[Scan]:
    """Scan every file in order: JSONL with the fast block reader (in parallel byte ranges when large),
    other types through `iter_records`. Returns the scans in record order."""
    scans: list[Scan] = []
    current: Scan | None = None

    def serial() -> Scan:
        nonlocal current
        if current is None:
            current = Scan(files, forced=format, max_seq_len=max_seq_len, cap=cap, counter=counter)
            scans.append(current)
        return current

    if source.hub_id:
        _scan_records(serial(), 0, iter_records(source, progress), format, formats_by_file)
        return _flushed(scans)
    total = source.total_bytes
    done = 0
    for fidx, f in enumerate(source.files):
        size = f.stat().st_size
        if size == 0:
            continue
        fmt = None
        if f.suffix.lower() == ".jsonl":
            fmt = format if format != "auto" else jsonl_window_format(f, _DETECT_WINDOW)
        if fmt is not None:
            formats_by_file[files[fidx]] = fmt
            ranges = None if counter.exact else scan_jsonl_parallel(files, fidx, fmt, format, max_seq_len, cap,
                                                                     workers, progress, done, total)
            if ranges is not None:
                scans.extend(ranges)
                current = None
            else:
                serial().jsonl(fidx, 0, size, 1, fmt, progress, done, total)
        else:
            reader = _READERS[f.suffix.lower()]
            _scan_records(serial(), fidx, reader(f, done, total, progress), format, formats_by_file)
        done += size
    if progress:
        progress(total, total)
    return _flushed(scans)


def _flushed(scans: list[Scan]) -> list[Scan]:
    for s in scans:
        if s.counter is not None:
            s.flush_tokens()
    return scans


def _scan_records(scan: Scan, fidx: int, records: Iterator[Record], format: str, formats_by_file: dict) -> None:
    base = fidx << ORDER_SHIFT
    for rec_idx, (rec, file_fmt) in enumerate(_with_file_format(records, format, formats_by_file), start=1):
        if rec.obj is None:
            scan.unreadable(base | rec_idx, rec.issues)
        else:
            scan.record(fidx, base | rec_idx, rec.line, rec.obj, rec.issues, file_fmt)


def iter_examples(path: str | Path, *, format: str = "auto", progress: ProgressFn | None = None,
                  formats_by_file: dict | None = None) -> Iterator[tuple[Record, str | None, list[dict] | None, list[Issue]]]:
    """Yield (record, format, canonical turns or None, issues) for every record: the shared reading loop of
    check, split and clean. `formats_by_file` (if given) is filled with each file's format."""
    if format != "auto" and format not in FORMATS:
        raise TunewizError(f"--format {format}: unknown; use auto or one of {', '.join(FORMATS)}", exit_code=2)
    source = open_source(path)
    for record, file_fmt in _with_file_format(iter_records(source, progress), format, formats_by_file):
        issues = list(record.issues)
        obj = record.obj
        if obj is None:
            yield record, file_fmt, None, issues
            continue
        if not isinstance(obj, dict):
            issues.append(Issue(record.line, "", "not_object", f"the record is {type(obj).__name__}, not a JSON object",
                                record.file))
            yield record, file_fmt, None, issues
            continue
        fmt = file_fmt
        if format == "auto":
            found = detect_format(obj)
            if found is None:
                keys = ", ".join(map(repr, list(obj)[:6])) or "no keys"
                issues.append(Issue(record.line, "", "unknown_format", f"record has {keys}; no known format", record.file))
                yield record, None, None, issues
                continue
            if file_fmt is not None and found != file_fmt:
                issues.append(Issue(record.line, "", "mixed_formats",
                                    f"record is {found} but this file is {file_fmt}", record.file))
                yield record, found, None, issues
                continue
            fmt = found
        turns, more = normalize(obj, fmt, record.line, record.file)
        issues += more
        if turns is not None:
            issues += check_conversation(turns, fmt, record.line, record.file)
        yield record, fmt, turns, issues


def _with_file_format(records: Iterator[Record], forced: str, out: dict | None):
    """Pair each record with its file's format: forced, or the majority of the file's first records."""
    buffer: list[Record] = []
    current: str | None = None
    fmt: str | None = None

    def decide(buf: list[Record]) -> str | None:
        if forced != "auto":
            return forced
        return majority_format([r.obj for r in buf if isinstance(r.obj, dict)])

    def flush(file: str | None):
        """Decide the buffered file's format, record it, yield the buffered records; returns the format."""
        decided = decide(buffer)
        if out is not None:
            out[file] = decided
        for r in buffer:
            yield r, decided
        buffer.clear()
        return decided

    for rec in records:
        if rec.file != current:
            if buffer:
                yield from flush(current)
            current, fmt = rec.file, None
        if fmt is None and len(buffer) < _DETECT_WINDOW:
            buffer.append(rec)
            continue
        if buffer:
            fmt = yield from flush(current)
        yield rec, fmt
    if buffer:
        yield from flush(current)


def check_dataset(path: str | Path, *, format: str = "auto", tokenizer: str | None = None, max_seq_len: int = 2048,
                  progress: ProgressFn | None = None, issue_cap: int = 1000, workers: int | None = None) -> CheckReport:
    """Check a dataset (file, folder or hub id) and return a `CheckReport`.

    Raises TunewizError (exit 2) when the input cannot be read at all: missing, unsupported type, empty,
    or holding no records. Everything else is an issue in the report (all of them are counted; at most
    `issue_cap` per code are kept with their details). A large JSONL file is scanned by `workers` processes
    (default: the usable CPU cores) over byte ranges when no exact tokenizer is used; the report is
    identical to a single-process scan."""
    counter = TokenCounter(tokenizer)
    source = open_source(path)
    if format != "auto" and format not in FORMATS:
        raise TunewizError(f"--format {format}: unknown; use auto or one of {', '.join(FORMATS)}", exit_code=2)
    log = IssueLog(cap=issue_cap)
    formats_by_file: dict[str, str | None] = {}
    files = [str(f) for f in source.files] or [source.label]
    scans = _scan_source(source, files, format, counter, max_seq_len, issue_cap, progress, formats_by_file, workers)
    quality, ex_tokens, reply_tokens, over = merge_scans(scans, files, log)
    examples = sum(s.examples for s in scans)
    valid = sum(s.valid for s in scans)
    if examples == 0:
        raise TunewizError(f"{path}: no records found (only blank lines?)", exit_code=2,
                           hint="a dataset has one JSON object per line (JSONL), a JSON array, CSV rows or Parquet rows")
    quality_stats, extra = quality.finish()
    for issue in extra:
        log.add(issue)
    if valid < 100:
        log.add(Issue(None, "", "too_few_examples", f"only {valid} valid example{'s' if valid != 1 else ''}; the guide "
                      "advises at least 100 (50-100 has minimal effect)", str(path)))
    formats = sorted({f for f in formats_by_file.values() if f})
    stats = {
        "valid_examples": valid,
        "formats_by_file": {Path(f).name: v for f, v in formats_by_file.items()},
        "quantity": {"count": valid, "verdict": quantity_verdict(valid), "advice": "Don't fine-tune with fewer than "
                     "100 examples (the guide)" if valid < 100 else ""},
        "tokens": token_stats(ex_tokens, reply_tokens, over, max_seq_len, counter.method, counter.exact),
        **quality_stats,
        "issue_counts": log.grouped(),
    }
    if log.error_count:
        verdict = "fix_errors"
    elif valid < 100:
        verdict = "too_few_examples"
    elif log.warning_count:
        verdict = "ready_with_warnings"
    else:
        verdict = "ready"
    return CheckReport(
        path=str(path),
        format=formats[0] if len(formats) == 1 else ("mixed" if formats else "unknown"),
        examples=examples,
        log=log,
        stats=stats,
        verdict=verdict,
        with_file=source.is_folder,
        max_seq_len=max_seq_len,
    )
