"""The committed sample data is what the generator makes, and its faults sit where the index says."""

import json

from core.sample_data import CATEGORIES, PRIORITIES, SENTIMENTS, generate_tickets, messy_lines, write_sample_data


def test_committed_sample_data_is_regenerated_exactly(tmp_path, repo_root):
    write_sample_data(tmp_path)
    committed = repo_root / "examples" / "support-tickets"
    for name in ("tickets.jsonl", "tickets-messy.jsonl", "tickets-messy.faults.json"):
        assert (tmp_path / name).read_bytes() == (committed / name).read_bytes(), name


def test_tickets_are_many_distinct_and_follow_the_schema():
    rows = generate_tickets()
    assert len(rows) >= 500
    assert len({r["messages"][1]["content"] for r in rows}) == len(rows)
    labels = [json.loads(r["messages"][2]["content"]) for r in rows]
    assert all(set(lab) == {"category", "priority", "sentiment"} for lab in labels)
    assert {lab["category"] for lab in labels} == set(CATEGORIES)
    assert {lab["priority"] for lab in labels} == set(PRIORITIES)
    assert {lab["sentiment"] for lab in labels} == set(SENTIMENTS)


def test_messy_faults_are_at_their_lines():
    lines, faults = messy_lines(generate_tickets())
    broken = lines[faults["broken_json"] - 1]
    try:
        json.loads(broken)
        raise AssertionError("broken line parses")
    except ValueError:
        pass
    roles = [m["role"] for m in json.loads(lines[faults["missing_assistant"] - 1])["messages"]]
    assert "assistant" not in roles
    dup = lines[faults["duplicate"] - 1]
    assert lines.count(dup) == 2
    assert "sk-FAKE" in lines[faults["secret"] - 1]
    assert "@example.com" in lines[faults["email"] - 1]
    assert len(lines[faults["over_long"] - 1]) > 10_000
