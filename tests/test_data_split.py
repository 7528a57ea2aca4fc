"""Split, clean and review marks: outputs, dedup, no leakage, seeds, never touching the input."""

from __future__ import annotations

import json

import pytest

from core.data.check import check_dataset
from core.data.clean import apply_clean, plan_clean
from core.data.review import ReviewMarks, load_example, load_review_sample, review_path
from core.data.split import split_dataset
from core.errors import TunewizError


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def messy(tmp_path, chat_examples):
    lines = [json.dumps(e) for e in chat_examples]
    lines.insert(10, "{broken")  # line 11
    lines.append(json.dumps(chat_examples[0]))  # exact duplicate, line 66
    lines.append(json.dumps({"conversations": [{"from": "human", "value": " Hi "}, {"from": "gpt", "value": "Hello"}]}))
    path = tmp_path / "messy.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_split_writes_canonical_messages_without_leakage(messy, tmp_path):
    before = messy.read_bytes()
    out = tmp_path / "out"
    result = split_dataset(messy, out=out)
    assert messy.read_bytes() == before
    train, val = rows(out / "train.jsonl"), rows(out / "val.jsonl")
    # 64 good + 1 mixed-format sharegpt record (an error in a messages file) + 1 broken + 1 duplicate
    assert result.train_examples + result.val_examples == 64 == len(train) + len(val)
    assert result.val_examples == round(64 * 0.1)
    assert result.dropped == {"errors": 2, "duplicates": 1, "reviewed_bad": 0}
    assert all(set(r) == {"messages"} and all(set(m) == {"role", "content"} for m in r["messages"]) for r in train + val)
    assert not {json.dumps(r) for r in train} & {json.dumps(r) for r in val}
    report = check_dataset(out)
    assert report.stats["leakage"] == 0 and report.error_count == 0


def test_split_is_seeded(messy, tmp_path):
    a = split_dataset(messy, out=tmp_path / "a", seed=1)
    b = split_dataset(messy, out=tmp_path / "b", seed=1)
    c = split_dataset(messy, out=tmp_path / "c", seed=2, val=0.25)
    assert (tmp_path / "a/val.jsonl").read_text() == (tmp_path / "b/val.jsonl").read_text()
    assert (tmp_path / "a/val.jsonl").read_text() != (tmp_path / "c/val.jsonl").read_text()
    assert a.val_examples == b.val_examples and c.val_examples == 16


def test_near_duplicates_stay_on_one_side(tmp_path):
    lines = []
    for i in range(40):
        q = f"question {i}"
        lines.append(json.dumps({"prompt": q, "completion": f"answer {i}"}))
        lines.append(json.dumps({"prompt": q.upper() + "!", "completion": f"answer {i}"}))
    path = tmp_path / "near.jsonl"
    path.write_text("\n".join(lines) + "\n")
    split_dataset(path, out=tmp_path, val=0.2)
    norm = lambda r: r["messages"][0]["content"].lower().strip("!")  # noqa: E731
    train = {norm(r) for r in rows(tmp_path / "train.jsonl")}
    val = {norm(r) for r in rows(tmp_path / "val.jsonl")}
    assert val and not train & val


def test_split_excludes_reviewed_bad(messy, tmp_path):
    marks = ReviewMarks(messy)
    marks.mark(1, "bad", "wrong color")
    marks.mark(2, "good")
    assert review_path(messy).exists() and json.loads(review_path(messy).read_text())["marks"]["1"]["note"] == "wrong color"
    result = split_dataset(messy, out=tmp_path / "o", exclude_reviewed_bad=True)
    assert result.dropped["reviewed_bad"] == 1
    # the duplicate of line 1 (line 66) survives as the first copy once line 1 is excluded
    assert result.train_examples + result.val_examples == 64


def test_split_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    with pytest.raises(TunewizError) as e:
        split_dataset(bad, out=tmp_path)
    assert e.value.exit_code == 1
    with pytest.raises(TunewizError):
        split_dataset(bad, out=tmp_path, val=1.5)


def test_review_marks_survive_reload_and_sample_is_seeded(chat_jsonl):
    marks = ReviewMarks(chat_jsonl)
    marks.mark(5, "good")
    marks.set_note(5, "fine")
    again = ReviewMarks(chat_jsonl)
    assert again.get(5)["mark"] == "good" and again.get(5)["note"] == "fine"
    assert again.counts() == {"good": 1, "bad": 0, "skip": 0, "total": 1}
    s1 = [i.line for i in load_review_sample(chat_jsonl, size=10, seed=42)]
    s2 = [i.line for i in load_review_sample(chat_jsonl, size=10, seed=42)]
    s3 = [i.line for i in load_review_sample(chat_jsonl, size=10, seed=7)]
    assert s1 == s2 and s1 != s3 and len(set(s1)) == 10
    item = load_example(chat_jsonl, 7)
    assert item.line == 7 and item.turns[-1]["role"] == "assistant"


def test_clean_preview_then_apply(messy, tmp_path):
    fixes = ["drop_invalid", "drop_duplicates", "strip_whitespace", "to_messages"]
    plan = plan_clean(messy, fixes)
    assert not (tmp_path / "messy.clean.jsonl").exists()
    assert plan.changes["unreadable"] == 1 and plan.changes["drop_invalid"] == 1
    assert plan.changes["drop_duplicates"] == 1 and plan.records_out == 64
    result = apply_clean(messy, fixes)
    assert result.out_file == tmp_path / "messy.clean.jsonl"
    cleaned = rows(result.out_file)
    assert len(cleaned) == 64 and all("messages" in r for r in cleaned)
    assert check_dataset(result.out_file).error_count == 0
    with pytest.raises(TunewizError):
        apply_clean(messy, fixes, out=messy)
