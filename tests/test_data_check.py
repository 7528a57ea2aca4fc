"""Every problem code of `check_dataset`, each at its exact line and field."""

from __future__ import annotations

import json

import pytest

from core.data import check_dataset
from core.data.codes import CODES
from core.errors import TunewizError

GOOD = {"messages": [{"role": "user", "content": "What color is the sky?"}, {"role": "assistant", "content": "Blue."}]}


def good(i: int) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"Question number {i} about item {i * 7}?"},
                                    {"role": "assistant", "content": f"Answer {i}: it is {i * 3}."}]})


def write(tmp_path, lines, name="data.jsonl", raw: bytes | None = None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def found(report):
    return {(i.line, i.code, i.field) for i in report.issues}


def msgs(*turns, **extra):
    return json.dumps({"messages": [dict(zip(("role", "content"), t)) if isinstance(t, tuple) else t for t in turns], **extra})


CASES = [
    ('{"messages": [{"role": "user", "content": "hi"} {"role": "assistant"}]}', "invalid_json", ""),
    ("[1, 2, 3]", "not_object", ""),
    ('{"messages": []}', "missing_messages", "messages"),
    ('{"messages": "hello"}', "missing_messages", "messages"),
    (msgs(("user", "hi"), "oops"), "message_not_object", "messages[1]"),
    (msgs({"content": "hi"}, ("assistant", "x")), "missing_role", "messages[0].role"),
    (msgs(("user", "hi"), ("robot", "x")), "unknown_role", "messages[1].role"),
    (msgs(("user", "hi"), {"role": "assistant"}), "missing_content", "messages[1].content"),
    (msgs(("user", "hi"), ("assistant", 42)), "content_not_string", "messages[1].content"),
    (msgs(("system", "s"), ("user", "hi")), "no_assistant_turn", "messages"),
    (msgs(("user", "hi"), ("assistant", "a"), ("user", "again")), "last_turn_not_assistant", "messages[2].role"),
    (msgs(("user", "hi"), ("user", "hi again"), ("assistant", "a")), "roles_not_alternating", "messages[1].role"),
    (msgs(("user", "hi"), ("assistant", "   ")), "empty_assistant_turn", "messages[1].content"),
    (msgs(("user", "hi"), ("assistant", "a"), ("system", "s"), ("user", "q"), ("assistant", "b")), "system_not_first",
     "messages[2].role"),
    (msgs(("user", "hi"), {"role": "assistant", "content": "a", "weight": 2}), "invalid_weight", "messages[1].weight"),
    (msgs(("user", "hi"), {"role": "assistant", "contents": "a", "content": "b"}), "unknown_key", "messages[1].contents"),
    (msgs(("user", " "), ("assistant", "a")), "whitespace_turn", "messages[0].content"),
    (msgs(("assistant", "only me")), "no_user_turn", "messages"),
    ('{"question": "q", "answer": "a"}', "unknown_format", ""),
]


@pytest.mark.parametrize("bad,code,field", CASES, ids=[c[1] for c in CASES])
def test_each_code_is_reported_at_its_line_and_field(tmp_path, bad, code, field):
    lines = [good(i) for i in range(6)]
    lines.insert(3, bad)  # physical line 4
    report = check_dataset(write(tmp_path, lines))
    assert (4, code, field) in found(report), sorted(found(report))
    issue = next(i for i in report.issues if i.code == code and i.line == 4)
    assert issue.fix == CODES[code].fix and issue.message
    # the good lines around it are clean
    assert not any(i.line in (1, 2, 3, 5, 6, 7) and i.severity == "error" for i in report.issues)


def test_invalid_json_message_has_column(tmp_path):
    report = check_dataset(write(tmp_path, [good(0), '{"messages": [1,,2]}']))
    issue = next(i for i in report.issues if i.code == "invalid_json")
    assert issue.line == 2 and "column 17" in issue.message


def test_invalid_utf8_reports_byte_offset(tmp_path):
    raw = (good(0) + "\n").encode() + b'{"text": "caf\xe9"}\n' + (good(1) + "\n").encode()
    report = check_dataset(write(tmp_path, None, raw=raw))
    issue = next(i for i in report.issues if i.code == "invalid_utf8")
    assert issue.line == 2 and "byte 14 of the line" in issue.message
    assert f"offset {len(good(0)) + 1 + 13} in the file" in issue.message


def test_bom_and_blank_lines_are_warnings(tmp_path):
    raw = b"\xef\xbb\xbf" + (good(0) + "\n\n" + good(1) + "\n   \n" + good(2) + "\n").encode()
    report = check_dataset(write(tmp_path, None, raw=raw))
    assert {(1, "byte_order_mark"), (2, "blank_line"), (4, "blank_line")} <= {(i.line, i.code) for i in report.issues}
    assert report.error_count == 0 and report.examples == 3


def test_mixed_formats_flags_the_minority(tmp_path):
    lines = [good(i) for i in range(5)] + [json.dumps({"prompt": "p", "completion": "c"})]
    report = check_dataset(write(tmp_path, lines))
    assert report.format == "messages"
    assert (6, "mixed_formats", "") in found(report)


def test_too_long_counts_tokens_cut(tmp_path):
    lines = [good(0), msgs(("user", "x" * 4000), ("assistant", "ok"))]
    report = check_dataset(write(tmp_path, lines), max_seq_len=512)
    issue = next(i for i in report.issues if i.code == "too_long")
    assert issue.line == 2
    over = report.stats["tokens"]["over_max"]
    assert over["count"] == 1 and over["tokens_cut"] == 1000 + 8 + 1 - 512


def test_duplicates_conflicts_and_secrets(tmp_path):
    lines = [good(0), good(1), good(0),  # 3: exact duplicate of 1
             good(1).replace("Question", "question"),  # 4: near duplicate of 2
             msgs(("user", "Question number 0 about item 0?"), ("assistant", "Something else")),  # 5: conflict with 1
             msgs(("user", "my key AKIAIOSFODNN7EXAMPLE"), ("assistant", "mail me at jo.bloggs@corp.io"))]
    report = check_dataset(write(tmp_path, lines))
    f = {(i.line, i.code) for i in report.issues}
    assert {(3, "duplicate"), (4, "near_duplicate"), (5, "conflicting_answers"), (6, "secret"), (6, "personal_data")} <= f
    assert report.stats["secrets"]["by_kind"] == {"aws_key": 1}
    assert report.stats["duplicates"]["exact"] == 1 and report.stats["duplicates"]["near"] == 1


def test_reply_format_consistency(tmp_path):
    lines = [msgs(("user", f"q{i}"), ("assistant", json.dumps({"a": i}))) for i in range(5)]
    lines.append(msgs(("user", "q9"), ("assistant", "plain text")))
    report = check_dataset(write(tmp_path, lines))
    assert (6, "reply_format_inconsistent") in {(i.line, i.code) for i in report.issues}
    assert report.stats["reply_format"]["json_share"] == pytest.approx(5 / 6, abs=1e-3)


def test_other_formats_normalize(tmp_path):
    cases = {
        "sharegpt": {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        "alpaca": {"instruction": "Add", "input": "1 1", "output": "2"},
        "prompt-completion": {"prompt": "p", "completion": "c"},
        "text": {"text": "plain text"},
    }
    for fmt, row in cases.items():
        report = check_dataset(write(tmp_path, [json.dumps(row)], name=f"{fmt}.jsonl"))
        assert report.format == fmt and report.error_count == 0, (fmt, report.issues)


def test_sharegpt_errors_point_into_conversations(tmp_path):
    row = {"conversations": [{"from": "human", "value": "hi"}, {"from": "alien", "value": "x"}]}
    report = check_dataset(write(tmp_path, [json.dumps(row)]))
    assert (1, "unknown_role", "conversations[1].from") in found(report)


def test_forced_format_reports_missing_fields(tmp_path):
    report = check_dataset(write(tmp_path, [good(0)]), format="alpaca")
    assert {(1, "empty_field", "instruction"), (1, "empty_field", "output")} <= found(report)


def test_json_array_and_csv_line_numbers(tmp_path):
    arr = tmp_path / "data.json"
    arr.write_text('[\n  {"prompt": "a", "completion": "b"},\n  {"prompt": "c",\n   "completion": 5},\n'
                   '  {"prompt": "e", "completion": "f"}\n]\n')
    report = check_dataset(arr)
    assert report.examples == 3 and (3, "field_not_string", "completion") in found(report)
    csv_path = tmp_path / "data.csv"
    csv_path.write_text('instruction,input,output\n"multi\nline",,ok\nbad row,only\nx,,\n')
    report = check_dataset(csv_path)
    assert {(4, "csv_malformed", ""), (5, "empty_field", "output")} <= found(report)
    assert report.examples == 3


def test_parquet_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"prompt": ["a", "b", ""], "completion": ["x", "y", "z"]}), path)
    report = check_dataset(path)
    assert report.examples == 3 and (3, "empty_field", "prompt") in found(report)


def test_folder_reports_file_names_and_leakage(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    write(folder, [good(0), good(1)], name="train.jsonl")
    write(folder, [good(2), good(1)], name="val.jsonl")
    report = check_dataset(folder)
    leak = [i for i in report.issues if i.code == "leakage"]
    assert len(leak) == 1 and leak[0].line == 2 and leak[0].file.endswith("val.jsonl")
    assert report.to_json()["warnings"][0]["file"]


def test_unreadable_inputs_raise_exit_2(tmp_path):
    with pytest.raises(TunewizError) as e:
        check_dataset(tmp_path / "missing.jsonl")
    assert e.value.exit_code == 2
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "blank.jsonl").write_text("\n\n")
    (tmp_path / "data.txt").write_text("hello")
    (tmp_path / "nothing").mkdir()
    for name in ("empty.jsonl", "blank.jsonl", "data.txt", "nothing"):
        with pytest.raises(TunewizError) as e:
            check_dataset(tmp_path / name)
        assert e.value.exit_code == 2, name


def test_json_shape_and_quantity_verdict(chat_jsonl):
    report = check_dataset(chat_jsonl)
    data = report.to_json()
    assert list(data) == ["path", "format", "examples", "errors", "warnings", "stats", "verdict"]
    assert data["examples"] == 64 and data["format"] == "messages" and data["errors"] == []
    assert data["verdict"] == "too_few_examples"
    assert "minimal effect" in data["stats"]["quantity"]["verdict"]
    assert all(set(w) == {"line", "field", "code", "message"} for w in data["warnings"])
    tokens = data["stats"]["tokens"]
    assert tokens["per_example"]["p50"] <= tokens["per_example"]["p90"] <= tokens["per_example"]["max"]
    assert tokens["recommended_max_seq_len"] >= tokens["per_example"]["p99"]
    json.dumps(data)


def test_tokenizer_counts_with_chat_template(chat_jsonl, tiny_model_dir):
    from transformers import AutoTokenizer

    report = check_dataset(chat_jsonl, tokenizer=str(tiny_model_dir))
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    first = json.loads(chat_jsonl.read_text().splitlines()[0])["messages"]
    expected = len(tok(tok.apply_chat_template(first, tokenize=False), add_special_tokens=False)["input_ids"])
    assert report.stats["tokens"]["exact"] is True and "chat template" in report.stats["tokens"]["method"]
    lengths_seen = report.stats["tokens"]["per_example"]
    assert lengths_seen["p50"] > 0 and lengths_seen["max"] >= expected


def test_demo_messy_sample_faults_are_all_found(repo_root):
    """The committed demo file with deliberate faults: each fault is reported at its recorded line."""
    folder = repo_root / "examples" / "support-tickets"
    faults = json.loads((folder / "tickets-messy.faults.json").read_text())
    report = check_dataset(folder / "tickets-messy.jsonl")
    got = {(i.line, i.code) for i in report.issues}
    expected = {("broken_json", "invalid_json"), ("missing_assistant", "no_assistant_turn"), ("duplicate", "duplicate"),
                ("secret", "secret"), ("email", "personal_data"), ("over_long", "too_long")}
    for fault, code in expected:
        assert (faults[fault], code) in got, (fault, code)
    assert report.error_count == 2 and report.exit_code == 1
    assert check_dataset(folder / "tickets.jsonl").error_count == 0
