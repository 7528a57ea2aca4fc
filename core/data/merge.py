"""Merge the scans of consecutive runs of records (`core.data.scan.Scan`) into one issue log and the
quality statistics, exactly as one serial pass would have found them: duplicates across the whole input
(numpy over the 8-byte fingerprints), the capped counters merged in record order, issues in record order."""

from __future__ import annotations

import heapq
from array import array
from collections import Counter
from pathlib import Path

from core.data.codes import Issue
from core.data.quality import QualityStats, file_role
from core.data.report import IssueLog
from core.data import scan as scan_module
from core.data.scan import MAX_LINES, ORDER_SHIFT, Scan, fingerprint


def merge_scans(scans: list[Scan], files: list[str], log: IssueLog) -> tuple[QualityStats, array, array, dict]:
    """Add every scan's issues (and the duplicate findings) to `log` in record order; return the merged
    quality counters, token arrays and the over-length totals."""
    import numpy as np

    if not scans:
        scans = [Scan(files)]
    order = np.concatenate([np.frombuffer(s.order, dtype=np.int64) for s in scans])
    dup_issues, quality = _duplicates(scans, files, order, log.cap)
    for s in scans:
        s.issues.sort(key=_key)
    for order_key, phase, issue in heapq.merge(*(s.issues for s in scans), dup_issues, key=_key):
        log.add(issue)
    for s in scans:
        for code, n in s.dropped.items():
            log.add_uncounted(code, n)
    for code, n in quality.pop("_dropped").items():
        log.add_uncounted(code, n)

    stats = QualityStats()
    stats.n = sum(s.valid for s in scans)
    stats.exact_count, stats.near_count = quality["exact"], quality["near"]
    stats.conflict_count, stats.leak_count = quality["conflicts"], quality["leaks"]
    _merge_systems(stats, scans)
    _merge_openings(stats, scans)
    for s in scans:
        stats.with_system += s.with_system
        stats.json_replies += s.json_replies
        stats.replies += s.replies
        stats.non_json_count += s.non_json_count
        room = MAX_LINES - len(stats.non_json_lines)
        stats.non_json_lines.extend((files[f], line) for f, line in s.non_json_lines[:room])
        stats.sensitive.update(s.sensitive)
        stats.sensitive_lines.extend(s.sensitive_lines[:MAX_LINES - len(stats.sensitive_lines)])
    ex_tokens, reply_tokens = array("q"), array("q")
    for s in scans:
        ex_tokens.extend(s.ex_tokens)
        reply_tokens.extend(s.reply_tokens)
    over = {"count": sum(s.over_count for s in scans), "tokens_cut": sum(s.tokens_cut for s in scans)}
    return stats, ex_tokens, reply_tokens, over


def _key(item):
    return item[0], item[1]


def _first_of(values):
    """For each position, the position of the first equal value (a stable argsort: O(n log n), three
    n-sized temporaries)."""
    import numpy as np

    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    del ordered
    group_first = order[np.flatnonzero(starts)]
    first = np.empty(n, dtype=np.int64)
    first[order] = group_first[np.cumsum(starts) - 1]
    return first


def _duplicates(scans: list[Scan], files: list[str], order, cap: int) -> tuple[list, dict]:
    """Exact duplicates (and leakage), near duplicates and conflicting answers, as `(order, 1, issue)`
    sorted by order: at most `cap` issues per code, the rest counted in `_dropped`."""
    import numpy as np

    def cat(name):
        """One array of every scan's `name` buffer; the scans' own copies are released."""
        parts = [getattr(s, name) for s in scans]
        for s in scans:
            setattr(s, name, None)
        if len(parts) == 1:
            return np.frombuffer(parts[0], dtype=np.int64)
        return np.frombuffer(b"".join(parts), dtype=np.int64)

    n = len(order)
    lines = cat("lines")
    efp, nfp, pfp, afp = cat("efp"), cat("nfp"), cat("pfp"), cat("afp")
    has_prompt = np.frombuffer(b"".join(s.has_prompt for s in scans), dtype=np.uint8).astype(bool)
    idx = np.arange(n)
    first = _first_of(efp)
    dup = first != idx
    file_of = order >> ORDER_SHIFT
    roles = np.array([{"train": 1, "val": 2}.get(file_role(f), 0) for f in files] or [0], dtype=np.int8)
    r_self, r_first = roles[file_of], roles[file_of[first]]
    leak = dup & (((r_first == 1) & (r_self == 2)) | ((r_first == 2) & (r_self == 1)))

    fresh = np.flatnonzero(~dup)
    near_first = fresh[_first_of(nfp[fresh])]
    near = np.zeros(n, dtype=bool)
    near[fresh] = near_first != fresh
    near_of = np.zeros(n, dtype=np.int64)
    near_of[fresh] = near_first

    asked = fresh[has_prompt[fresh]]
    prompt_first = asked[_first_of(pfp[asked])]
    conflict = np.zeros(n, dtype=bool)
    conflict[asked] = (prompt_first != asked) & (afp[asked] != afp[prompt_first])
    conflict_of = np.zeros(n, dtype=np.int64)
    conflict_of[asked] = prompt_first

    out: list[tuple[int, int, int, Issue]] = []
    dropped: Counter[str] = Counter()

    def emit(mask, code, sub, make):
        hits = np.flatnonzero(mask)
        for i in hits[:cap].tolist():
            out.append((int(order[i]), sub, i, make(i)))
        if len(hits) > cap:
            dropped[code] += len(hits) - cap

    def where(i):
        f = int(file_of[first[i]])
        fline = int(lines[first[i]])
        return f, fline

    def dup_issue(i):
        f, fline = where(i)
        file = files[int(file_of[i])]
        place = f"line {fline}" if files[f] == file else f"{Path(files[f]).name} line {fline}"
        return Issue(int(lines[i]), "", "duplicate", f"exact duplicate of {place}", file)

    def leak_issue(i):
        f, fline = where(i)
        return Issue(int(lines[i]), "", "leakage", f"the same example is in {Path(files[f]).name} line {fline}",
                     files[int(file_of[i])])

    emit(dup & ~leak, "duplicate", 0, dup_issue)
    emit(leak, "leakage", 0, leak_issue)
    emit(near, "near_duplicate", 1, lambda i: Issue(
        int(lines[i]), "", "near_duplicate", f"near duplicate of line {int(lines[near_of[i]])} (same text "
        "ignoring case, punctuation and spacing)", files[int(file_of[i])]))
    emit(conflict, "conflicting_answers", 2, lambda i: Issue(
        int(lines[i]), "", "conflicting_answers", f"same prompt as line {int(lines[conflict_of[i]])} but a "
        "different answer", files[int(file_of[i])]))
    out.sort(key=lambda t: (t[0], t[1]))
    counts = {"exact": int(dup.sum()), "leaks": int(leak.sum()), "near": int(near.sum()),
              "conflicts": int(conflict.sum()), "_dropped": dropped}
    return [(o, 1, issue) for o, _, _, issue in out], counts


def _merge_systems(stats: QualityStats, scans: list[Scan]) -> None:
    """A serial pass counts a system prompt if fewer than MAX_DISTINCT are known or it is already known.
    Each scan applied that rule to itself; prompts it turned away are kept by fingerprint, so the global
    rule can be replayed exactly (once a scan is full the global counter is full too)."""
    merged = stats.systems
    by_fp: dict[bytes, str] | None = None
    for s in scans:
        for text, count in s.systems.items():
            if len(merged) < scan_module.MAX_DISTINCT or text in merged:
                merged[text] += count
        if s.systems_overflow:
            if by_fp is None or len(by_fp) != len(merged):
                by_fp = {fingerprint(t.encode("utf-8", "surrogatepass")): t for t in merged}
            for fp, count in s.systems_overflow.items():
                if fp in by_fp:
                    merged[by_fp[fp]] += count


def _merge_openings(stats: QualityStats, scans: list[Scan]) -> None:
    """A serial pass stops counting openings once MAX_DISTINCT distinct ones are known: replay each scan's
    sequence of openings until that point (in bulk while it cannot be reached)."""
    merged = stats.openings
    for s in scans:
        if len(merged) >= scan_module.MAX_DISTINCT:
            break
        keys = list(s.opening_ids)
        new = sum(1 for k in keys if k not in merged)
        if len(merged) + new < scan_module.MAX_DISTINCT:
            counts = Counter(s.opening_seq)
            for k_id, key in enumerate(keys):
                merged[key] += counts[k_id]
            continue
        for k_id in s.opening_seq:
            if len(merged) >= scan_module.MAX_DISTINCT:
                break
            merged[keys[k_id]] += 1
