"""Scan a large JSONL file in worker processes, one byte range each (ranges start at line starts), so a
check uses every CPU core. `core.data.merge` joins the scans into exactly the single-process report.

Workers are forked, so this runs only where `fork` exists and the calling process has a single thread
(the CLI, scripts); elsewhere (e.g. the wizard's worker thread) the caller scans serially."""

from __future__ import annotations

import multiprocessing
import os
import threading

from core.data.scan import Scan

PARALLEL_MIN_BYTES = 16 << 20
_shared_progress = None


def can_fork() -> bool:
    """Forking is safe only where `fork` exists and this process runs a single thread."""
    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def scan_jsonl_parallel(files: list[str], fidx: int, fmt: str, forced: str, max_seq_len: int, cap: int,
                        workers: int | None, progress, base: int, total: int) -> list[Scan] | None:
    """The scans of file `fidx` split over `workers` processes, in line order; None when the file is too
    small to gain, one worker is asked for, or processes cannot be used here (the caller scans serially)."""
    path = files[fidx]
    size = os.path.getsize(path)
    n = min(usable_cpus(), 8) if workers is None else workers
    if n < 2 or size < PARALLEL_MIN_BYTES or size < n:
        return None
    if not can_fork():
        return None
    starts, first_lines = _ranges(path, size, n)
    if len(starts) < 2:
        return None
    ends = starts[1:] + [size]
    jobs = [(k, files, fidx, fmt, forced, max_seq_len, cap, s, e, line)
            for k, (s, e, line) in enumerate(zip(starts, ends, first_lines))]
    ctx = multiprocessing.get_context("fork")
    try:
        shared = ctx.Array("q", len(jobs), lock=False)
        pool = ctx.Pool(len(jobs), initializer=_init, initargs=(shared,))
    except OSError:  # no semaphores or shared memory in this sandbox
        return None
    with pool:
        result = pool.map_async(_scan_range, jobs, chunksize=1)
        while not result.ready():
            result.wait(0.2)
            if progress:
                progress(base + sum(shared), total)
        return result.get()


def _ranges(path: str, size: int, n: int) -> tuple[list[int], list[int]]:
    """Start offsets of up to `n` ranges, each at a line start, and the line number each starts on."""
    starts = [0]
    with open(path, "rb") as fh:
        for k in range(1, n):
            fh.seek(size * k // n - 1)
            fh.readline()
            pos = fh.tell()
            if pos < size and pos > starts[-1]:
                starts.append(pos)
        first_lines = [1]
        fh.seek(0)
        line = 1
        pos = 0
        for nxt in starts[1:]:
            while pos < nxt:
                block = fh.read(min(8 << 20, nxt - pos))
                line += block.count(b"\n")
                pos += len(block)
            first_lines.append(line)
    return starts, first_lines


def _init(shared) -> None:
    global _shared_progress
    _shared_progress = shared


def _scan_range(job) -> Scan:
    k, files, fidx, fmt, forced, max_seq_len, cap, start, end, first_line = job
    scan = Scan(files, forced=forced, max_seq_len=max_seq_len, cap=cap)

    def report(done: int, _total: int) -> None:
        _shared_progress[k] = done

    scan.jsonl(fidx, start, end, first_line, fmt, report, -start, 0)
    return scan
