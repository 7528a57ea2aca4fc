"""Throughput of `tunewiz check` against the `together` SDK's file checker on the same generated file.

    python bench/check_throughput.py [--examples 200000] [--keep FILE]

Generates N chat examples (OpenAI messages format, 2-4 turns, some with a system prompt), then times
`core.data.check_dataset` (everything `tunewiz check` does: validation, token estimate, duplicates,
secrets, quality stats) as `tunewiz check` runs it (worker processes over byte ranges on a large file)
and in one process, and `together.utils.check_file`. Prints examples/s of each, CPU seconds, peak memory
and the ratio. Wall-clock rates depend on how many cores are free: on a shared machine, compare CPU
seconds too."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WORDS = ("the a color sky apple model data train token answer question because which where when how why "
         "river mountain code python function value error result report line file check quick brown fox").split()


def generate(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            msgs = []
            if rng.random() < 0.5:
                msgs.append({"role": "system", "content": "You are a helpful assistant."})
            for _ in range(rng.choice((1, 1, 2))):
                msgs.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(5, 30))) + f" #{i}?"})
                msgs.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=rng.randint(10, 60))) + "."})
            fh.write(json.dumps({"messages": msgs}) + "\n")


def time_it(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the check's workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200_000)
    ap.add_argument("--keep", type=Path, default=None, help="write the generated file here and keep it")
    args = ap.parse_args()
    from core.data import check_dataset

    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "bench.jsonl"
    t_gen, _ = time_it(lambda: generate(path, args.examples))
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path} ({args.examples:,} examples, {size_mb:,.1f} MB, generated in {t_gen:.1f}s)")
    import core.data.scan as scan

    parser = "orjson" if scan._orjson_loads is not None else "json (install orjson for faster parsing)"
    print(f"JSON parser   : {parser}")
    cpu0 = _cpu()
    t_tw, report = time_it(lambda: check_dataset(path))
    cpu_tw = _cpu() - cpu0
    tw_rate = report.examples / t_tw
    print(f"tunewiz check : {t_tw:7.2f}s  {tw_rate:12,.0f} examples/s  {cpu_tw:6.2f} CPU s  ({report.error_count} errors, "
          f"{report.warning_count} warnings; {len(report.stats['issue_counts'])} finding kinds)")
    cpu0 = _cpu()
    t_one, report_one = time_it(lambda: check_dataset(path, workers=1))
    cpu_one = _cpu() - cpu0
    same = "identical report" if report_one.to_json() == report.to_json() else "REPORT DIFFERS"
    print(f"  1 process   : {t_one:7.2f}s  {report_one.examples / t_one:12,.0f} examples/s  {cpu_one:6.2f} CPU s  ({same})")
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory   : {own:,.0f} MB (this process), {workers:,.0f} MB (largest worker)")
    try:
        try:
            from together.utils import check_file  # together 1.x
        except ImportError:
            from together.lib.utils.files import check_file  # together 2.x/3.x
    except ImportError as exc:
        print(f"together SDK  : not available ({exc}); install `together` to compare. tunewiz alone: "
              f"{tw_rate:,.0f} examples/s")
        return 0
    cpu0 = _cpu()
    t_to, tog = time_it(lambda: check_file(path))
    cpu_to = _cpu() - cpu0
    to_rate = args.examples / t_to
    print(f"together check: {t_to:7.2f}s  {to_rate:12,.0f} examples/s  {cpu_to:6.2f} CPU s  "
          f"(passed={tog.get('is_check_passed')})")
    ratio = tw_rate / to_rate
    print(f"ratio         : tunewiz is {ratio:.2f}x the together checker's speed "
          f"({'faster' if ratio >= 1 else 'slower'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
