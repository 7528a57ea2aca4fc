"""The parallel check (byte ranges of a JSONL file in worker processes) reports exactly what the serial
check reports, with faults, duplicates and capped counters spread across the range boundaries."""

from __future__ import annotations

import json
import random

import pytest

import core.data.parallel as parallel
import core.data.scan as scan
from core.data import check_dataset

WORDS = "the a sky apple model data train token answer question river code python value error".split()


def _chat(rng: random.Random, i: int, system: str | None = None) -> dict:
    msgs = [{"role": "system", "content": system}] if system else []
    for _ in range(rng.choice((1, 2))):
        msgs.append({"role": "user", "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 6))) + f" {i}?"})
        msgs.append({"role": "assistant", "content": " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))})
    return {"messages": msgs}


def _faulty_file(path, n: int = 3000, seed: int = 3) -> None:
    rng = random.Random(seed)
    bad = [
        '{"messages": [{"role": "user", "content": "hi"} {"role": "assistant"}]}',  # invalid JSON
        "[1, 2, 3]", "null", "", "   ", '{"question": "q"}', '{"prompt": "p", "completion": "c"}',
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]}),
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "again"}]}),
        json.dumps({"messages": [{"role": "user", "content": "my key AKIAIOSFODNN7EXAMPLE"},
                                 {"role": "assistant", "content": "mail jo@corp.io or call +1 415 555 0199"}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x" * 9000}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": '{"a": 1}'}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "extra": 1}),
        json.dumps({"messages": [{"role": "user", "content": "café?"}, {"role": "assistant", "content": "Oui!"}]},
                   ensure_ascii=False),
        '{"messages": ' + "[" * 990 + "]" * 990 + "}",  # nested too deeply, wherever it is parsed
    ]
    written: list[bytes] = []
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        for i in range(n):
            r = rng.random()
            if r < 0.08:
                line = rng.choice(bad).encode()
            elif r < 0.09:
                line = b'{"text": "caf\xe9"}'  # invalid UTF-8
            elif r < 0.14 and written:
                line = rng.choice(written)  # exact duplicate, often of a line in another range
                if rng.random() < 0.4:
                    line = line.replace(b"the", b"The")  # near duplicate
            else:
                system = rng.choice([None, "You are helpful.", f"Persona {rng.randint(0, 400)}"])
                line = json.dumps(_chat(rng, i % 700, system)).encode()  # i % 700: same prompts recur
                written.append(line)
            fh.write(line + (b"\r\n" if rng.random() < 0.02 else b"\n"))
        fh.write(json.dumps(_chat(rng, 0)).encode())  # no newline at the end


@pytest.mark.parametrize("workers", [2, 3, 7])
@pytest.mark.parametrize("cap", [1000, 3])
def test_parallel_report_is_identical_to_serial(tmp_path, monkeypatch, workers, cap):
    path = tmp_path / "data.jsonl"
    _faulty_file(path)
    monkeypatch.setattr(scan, "MAX_DISTINCT", 150)  # the capped counters fill up in the middle of a range
    serial = check_dataset(path, workers=1, issue_cap=cap).to_json()

    ranges = []
    real = parallel.scan_jsonl_parallel

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        ranges.append(out)
        return out

    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "can_fork", lambda: True)  # other tests may leave idle threads behind
    monkeypatch.setattr("core.data.check.scan_jsonl_parallel", spy)
    par = check_dataset(path, workers=workers, issue_cap=cap).to_json()
    assert ranges and ranges[0] is not None and len(ranges[0]) == workers  # the parallel path really ran
    assert par == serial
    # the faults are really there, in every range
    codes = {i["code"] for i in serial["errors"] + serial["warnings"]}
    assert {"invalid_json", "invalid_utf8", "not_object", "unknown_format", "mixed_formats", "unknown_role",
            "roles_not_alternating", "duplicate", "near_duplicate", "conflicting_answers", "secret", "personal_data",
            "too_long", "blank_line", "byte_order_mark", "unknown_key"} <= codes
    lines = sorted(i["line"] for i in serial["errors"] if i["line"])
    assert lines[0] < 300 and (lines[-1] > 2700 or cap < 1000)
    assert serial["stats"]["openings"]["distinct"] == 150 and serial["stats"]["system_prompts"]["distinct"] == 150
    deep = [i for i in serial["errors"] if "nested too deeply" in i["message"]]
    assert deep and all(i["code"] == "invalid_json" for i in deep)


def test_parallel_range_starts_are_line_starts(tmp_path):
    path = tmp_path / "data.jsonl"
    _faulty_file(path, n=500)
    data = path.read_bytes()
    starts, first_lines = parallel._ranges(str(path), len(data), 5)
    assert starts[0] == 0 and len(starts) == 5
    for start, line in zip(starts, first_lines):
        assert start == 0 or data[start - 1:start] == b"\n"
        assert data.count(b"\n", 0, start) + 1 == line


def test_fingerprints_take_eight_bytes_each(tmp_path):
    path = tmp_path / "data.jsonl"
    _faulty_file(path, n=400)
    s = scan.Scan([str(path)])
    s.jsonl(0, 0, path.stat().st_size, 1, "messages")
    assert s.valid > 300
    assert len(s.efp) == 8 * s.valid
    assert all(a.itemsize * len(a) == 8 * s.valid for a in (s.nfp, s.pfp, s.afp, s.order, s.lines))


def test_orjson_and_json_parse_to_the_same_report(tmp_path, monkeypatch):
    pytest.importorskip("orjson")
    path = tmp_path / "data.jsonl"
    _faulty_file(path, n=1500)
    with_orjson = check_dataset(path, workers=1).to_json()
    monkeypatch.setattr(scan, "_orjson_loads", None)
    monkeypatch.setattr(scan.Scan, "use_orjson", False, raising=False)
    assert check_dataset(path, workers=1).to_json() == with_orjson


def test_invalid_utf8_offset_is_within_its_own_file_in_a_folder(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    first = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    (folder / "a.jsonl").write_text(first + "\n" + first + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_bytes((first + "\n").encode() + b'{"text": "caf\xe9"}\n')
    issue = next(i for i in check_dataset(folder).issues if i.code == "invalid_utf8")
    assert issue.file.endswith("b.jsonl") and issue.line == 2
    assert f"offset {len(first) + 1 + 13} in the file" in issue.message
