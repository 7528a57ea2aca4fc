"""`check_dataset`: read a dataset once, streaming, and report every problem with its line, plus the
quality statistics. The CLI (`tunewiz check`) and the wizard's Data step both call this."""

from __future__ import annotations

from array import array
from collections import Counter
from pathlib import Path
from typing import Iterator

from core.data.codes import ERROR, Issue
from core.data.formats import FORMATS, detect_format, majority_format, normalize
from core.data.quality import QualityStats, quantity_verdict
from core.data.reader import ProgressFn, Record, iter_records, open_source
from core.data.report import CheckReport, IssueLog, token_stats
from core.data.tokens import TokenCounter
from core.data.validate import check_conversation
from core.errors import TunewizError

_DETECT_WINDOW = 200
_RECORD_CODES = ("invalid_json", "invalid_utf8", "csv_malformed")


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

    for rec in records:
        if rec.file != current:
            if buffer:
                fmt = decide(buffer)
                if out is not None:
                    out[current] = fmt
                for r in buffer:
                    yield r, fmt
                buffer = []
            current, fmt = rec.file, None
        if fmt is None and len(buffer) < _DETECT_WINDOW:
            buffer.append(rec)
            continue
        if buffer:
            fmt = decide(buffer)
            if out is not None:
                out[current] = fmt
            for r in buffer:
                yield r, fmt
            buffer = []
        yield rec, fmt
    if buffer:
        fmt = decide(buffer)
        if out is not None:
            out[current] = fmt
        for r in buffer:
            yield r, fmt


def check_dataset(path: str | Path, *, format: str = "auto", tokenizer: str | None = None, max_seq_len: int = 2048,
                  progress: ProgressFn | None = None, issue_cap: int = 1000) -> CheckReport:
    """Check a dataset (file, folder or hub id) and return a `CheckReport`.

    Raises TunewizError (exit 2) when the input cannot be read at all: missing, unsupported type, empty,
    or holding no records. Everything else is an issue in the report (all of them are counted; at most
    `issue_cap` per code are kept with their details)."""
    counter = TokenCounter(tokenizer)
    source = open_source(path)
    log = IssueLog(cap=issue_cap)
    quality = QualityStats()
    formats_by_file: dict[str, str | None] = {}
    ex_tokens, reply_tokens = array("q"), array("q")
    over = {"count": 0, "tokens_cut": 0}
    examples = valid = 0
    pending: list[tuple[str, int, list[dict]]] = []
    batch = 256 if counter.exact else 1

    def flush() -> None:
        for (file, line, _), (total, replies) in zip(pending, counter.count([p[2] for p in pending])):
            ex_tokens.append(total)
            reply_tokens.extend(replies)
            if total > max_seq_len:
                over["count"] += 1
                over["tokens_cut"] += total - max_seq_len
                log.add(Issue(line, "", "too_long", f"{total:,} tokens; {total - max_seq_len:,} would be cut at "
                              f"max_seq_length {max_seq_len}", file))
        pending.clear()

    for record, fmt, turns, issues in iter_examples(path, format=format, progress=progress, formats_by_file=formats_by_file):
        if record.obj is not None or any(i.code in _RECORD_CODES for i in issues):
            examples += 1
        has_error = False
        for issue in issues:
            log.add(issue)
            has_error = has_error or issue.severity == ERROR
        if turns is None or has_error:
            continue
        valid += 1
        for issue in quality.add(record.file, record.line, turns):
            log.add(issue)
        pending.append((record.file, record.line, turns))
        if len(pending) >= batch:
            flush()
    flush()
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
