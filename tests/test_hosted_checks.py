"""Provider data rules (with line numbers) and the cost estimate, against hand calculations."""

from __future__ import annotations

import json

import pytest

from core.errors import TunewizError
from core.hosted import check_file, estimate_cost
from core.hosted.providers import get_provider, model_size_billions


def write_lines(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def chat(user="hello", assistant="hi", **extra):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant, **extra}]}


def codes(report):
    return [(e["line"], e["field"], e["code"]) for e in report.errors]


def test_openai_rules_report_line_and_field(tmp_path):
    rows = [chat()] * 10 + [
        "{not json",
        {"prompt": "a", "completion": "b"},
        {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]},
        {"messages": [{"role": "user", "content": "x", "weight": 1}, {"role": "assistant", "content": "y"}]},
        chat(weight=2),
        {"messages": [{"role": "user", "content": "only a question"}]},
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y", "mood": "happy"}]},
    ]
    report = check_file("openai", write_lines(tmp_path / "t.jsonl", rows), tokenizer="approx")
    got = codes(report)
    assert (11, "", "invalid_json") in got
    assert (12, "messages", "missing_messages") in got
    assert (13, "messages[0].role", "unknown_role") in got
    assert (14, "messages[0].weight", "weight_not_assistant") in got
    assert (15, "messages[1].weight", "bad_weight") in got
    assert (16, "messages", "no_assistant") in got
    assert (17, "messages[0].content", "bad_content") in got
    assert (17, "messages[1].mood", "unknown_message_key") in got
    assert not report.ok
    assert all(set(e) == {"line", "field", "code", "message"} for e in report.errors + report.warnings)


def test_openai_minimum_examples_and_clean_file(tmp_path, chat_jsonl):
    few = check_file("openai", write_lines(tmp_path / "few.jsonl", [chat()] * 9), tokenizer="approx")
    assert [(e["line"], e["code"]) for e in few.errors] == [(None, "too_few_examples")]
    good = check_file("openai", chat_jsonl, tokenizer="approx")
    assert good.ok and good.examples == 64 and good.format == "chat"


def test_together_rules(tmp_path):
    rows = [
        chat(),
        {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                      {"role": "assistant", "content": "a", "weight": 0}]},
        {"messages": [{"role": "user", "content": "u"}, {"role": "user", "content": "again"},
                      {"role": "assistant", "content": "a"}]},
        {"messages": [{"role": "assistant", "content": "first"}, {"role": "user", "content": "u"}]},
        {"messages": [{"role": "user", "content": "u"}, {"role": "system", "content": "late"},
                      {"role": "assistant", "content": "a"}]},
        chat(weight=0.5),
        {"prompt": "p", "completion": "c"},
        {"input": {}, "preferred_output": [], "non_preferred_output": []},
        {"foo": 1},
    ]
    report = check_file("together", write_lines(tmp_path / "t.jsonl", rows), tokenizer="approx")
    got = codes(report)
    assert (3, "messages[1].role", "not_alternating") in got
    assert (4, "messages[0].role", "not_alternating") in got
    assert (5, "messages[1].role", "system_not_first") in got
    assert (6, "messages[1].weight", "bad_weight") in got
    assert (7, "prompt", "mixed_formats") in got
    assert (8, "", "preference_format") in got
    assert (9, "", "unknown_format") in got
    assert not any(line in (1, 2) for line, _, _ in got)  # weight 0 and a leading system message are fine
    assert report.format == "conversation"


def test_together_instruction_and_text_files(tmp_path):
    inst = check_file("together", write_lines(tmp_path / "i.jsonl", [{"prompt": "p", "completion": "c"}] * 3))
    assert inst.ok and inst.format == "instruction"
    mixed = check_file("together", write_lines(tmp_path / "m.jsonl", [{"text": "t"}, {"prompt": "p", "completion": "c"}]))
    assert codes(mixed) == [(2, "prompt", "mixed_formats")]


def test_missing_file_is_one_clear_error(tmp_path):
    report = check_file("openai", tmp_path / "nope.jsonl")
    assert [e["code"] for e in report.errors] == ["file_not_found"]


def _uniform(tmp_path, name, n):
    # Each example, by hand with the approximation (ceil(chars / 4), 3 per message, 3 to prime the reply):
    #   priming 3 + user (3 + ceil(4/4)=1 + ceil(40/4)=10) + assistant (3 + ceil(9/4)=3 + ceil(8/4)=2) = 25
    return write_lines(tmp_path / name, [chat(user="a" * 40, assistant="b" * 8)] * n)


def test_openai_estimate_matches_hand_calculation(tmp_path):
    est = estimate_cost("openai", _uniform(tmp_path, "t.jsonl", 10), model="gpt-4o-mini-2024-07-18",
                        epochs="auto", tokenizer="approx")
    assert est.tokens_per_epoch == 10 * 25
    assert est.epochs == 10  # 10 examples: ceil(100 / 10) = 10 epochs
    assert est.billable_tokens == 2500
    assert est.price_per_million == 3.00
    assert est.cost_usd == pytest.approx(2500 / 1_000_000 * 3.00)  # $0.0075
    assert "2025" in est.price_source


def test_openai_default_epoch_rule():
    rule = get_provider("openai").default_epochs
    assert rule(1)[0] == 25 and rule(10)[0] == 10 and rule(34)[0] == 3 and rule(500)[0] == 3
    assert rule(10_000)[0] == 2 and rule(50_000)[0] == 1


def test_together_estimate_bills_evaluations(tmp_path):
    train = _uniform(tmp_path, "t.jsonl", 10)
    val = _uniform(tmp_path, "v.jsonl", 5)
    est = estimate_cost("together", train, val=val, model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                        epochs=3, n_evals=2, tokenizer="approx")
    # 250 tokens x 3 epochs + 125 validation tokens x 2 evaluations = 1000 tokens at $0.48 / 1M (LoRA, <= 16B)
    assert (est.billable_tokens, est.price_per_million) == (1000, 0.48)
    assert est.cost_usd == pytest.approx(0.00048)
    full = estimate_cost("together", train, model="Qwen/Qwen2.5-72B-Instruct", epochs=1, lora=False, tokenizer="approx")
    assert full.price_per_million == 3.20


def test_long_examples_are_capped_at_the_limit_and_warned(tmp_path):
    rows = [chat(user="x" * 70_000)] + [chat()] * 9
    path = write_lines(tmp_path / "long.jsonl", rows)
    report = check_file("openai", path, model="gpt-3.5-turbo-0125", tokenizer="approx")
    assert report.ok and [(w["line"], w["code"]) for w in report.warnings][0] == (1, "too_long")
    est = estimate_cost("openai", report, model="gpt-3.5-turbo-0125", epochs=1)
    assert est.truncated_examples == 1
    assert est.tokens_per_epoch == 16_385 + sum(report.tokens[1:])


def test_price_overrides(tmp_path, monkeypatch):
    path = _uniform(tmp_path, "t.jsonl", 10)
    assert estimate_cost("openai", path, epochs=1, price=10.0, tokenizer="approx").cost_usd == pytest.approx(0.0025)
    home = tmp_path / "home"
    home.mkdir()
    (home / "hosted-prices.yaml").write_text("openai:\n  gpt-4o-mini: 4.0\n", encoding="utf-8")
    monkeypatch.setenv("TUNEWIZ_HOME", str(home))
    est = estimate_cost("openai", path, epochs=1, tokenizer="approx")
    assert est.price_per_million == 4.0 and "hosted-prices.yaml" in est.price_source
    unknown = estimate_cost("openai", path, model="some-new-model", epochs=1, tokenizer="approx")
    assert unknown.cost_usd is None


def test_bad_epochs_and_sizes(tmp_path):
    with pytest.raises(TunewizError):
        estimate_cost("openai", _uniform(tmp_path, "t.jsonl", 10), epochs="lots")
    assert model_size_billions("meta-llama/Meta-Llama-3.1-70B-Instruct-Reference") == 70
    assert model_size_billions("mistralai/Mixtral-8x7B-Instruct-v0.1") == 56
