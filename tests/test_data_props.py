"""Property tests: corrupting a valid file never crashes the checker, and every corrupted line is reported
at its own line number."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.data import check_dataset
from core.toy import make_chat_examples
from tunewiz.cli.main import main

BASE = [json.dumps(e) for e in make_chat_examples(12, seed=3)]

corruptions = st.sampled_from(["cut", "flip", "syntax", "wrong_type", "huge", "nest", "not_object", "drop_role"])


def structural_positions(line: str) -> list[int]:
    """Offsets of JSON punctuation outside strings (changing one of these always breaks the JSON)."""
    out, in_str, esc = [], False, False
    for k, c in enumerate(line):
        if in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c in ":,{}[]":
            out.append(k)
    return out


def corrupt(line: str, how: str, data) -> bytes:
    raw = line.encode()
    if how == "cut":
        return raw[: data.draw(st.integers(1, len(raw) - 2))]
    if how == "flip":
        i = data.draw(st.integers(0, len(raw) - 1))
        b = data.draw(st.sampled_from([0x80, 0xFF, 0xC3]))  # never valid UTF-8 here
        return raw[:i] + bytes([b]) + raw[i + 1:]
    if how == "syntax":
        j = data.draw(st.sampled_from(structural_positions(line)))
        return raw[:j] + data.draw(st.sampled_from([b";", b"", b"::", b"}}"])) + raw[j + 1:]
    obj = json.loads(line)
    if how == "wrong_type":
        obj["messages"][data.draw(st.integers(0, 2))]["content"] = data.draw(st.sampled_from([1, None, [1], {"a": 1}, True]))
    elif how == "huge":
        return ("[" * 100_000 + "]" * 100_000).encode()
    elif how == "nest":
        obj["messages"] = {"nested": obj["messages"]}
    elif how == "not_object":
        return json.dumps(obj["messages"]).encode()
    elif how == "drop_role":
        del obj["messages"][-1]["role"]
    return json.dumps(obj).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), targets=st.sets(st.integers(0, len(BASE) - 1), min_size=1, max_size=4))
def test_corrupted_lines_are_reported_with_their_numbers(tmp_path_factory, data, targets):
    lines = [line.encode() for line in BASE]
    for t in targets:
        lines[t] = corrupt(BASE[t], data.draw(corruptions), data)
    path = tmp_path_factory.mktemp("prop") / "data.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = check_dataset(path)
    error_lines = {i.line for i in report.errors}
    assert {t + 1 for t in targets} <= error_lines
    assert error_lines <= {t + 1 for t in targets}
    assert report.exit_code == 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=1, max_size=300))
def test_random_bytes_never_crash_the_cli(tmp_path_factory, blob):
    path = tmp_path_factory.mktemp("blob") / "data.jsonl"
    path.write_bytes(blob)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(path), "--json"])
    assert code in (0, 1, 2), err.getvalue()
    assert "internal error" not in err.getvalue()
    if code != 2:
        json.loads(out.getvalue())
