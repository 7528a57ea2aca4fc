"""Evaluation of a finished tiny-model run: held-out loss/perplexity, side-by-side generation, eval.json."""

import json
import math

import pytest

from core.evaluate.ab import load_session, save_session
from core.evaluate.runner import evaluate_run, read_eval, summary_lines
from core.export.chat_format import turn_format_for
from core.runs import RunDir


def test_evaluate_writes_base_vs_tuned(finished_run_dir):
    run = RunDir(finished_run_dir)
    stages = []
    result = evaluate_run(run, n=4, regex=r'"color"', progress=lambda s, d, t: stages.append(s))
    on_disk = json.loads((finished_run_dir / "eval.json").read_text())
    assert on_disk["samples"] == result["samples"]
    base, tuned = result["loss"]["base"], result["loss"]["tuned"]
    assert tuned["loss"] < base["loss"]  # the trained adapter helps on held-out data
    assert tuned["perplexity"] == pytest.approx(math.exp(tuned["loss"]))
    assert base["examples"] == tuned["examples"] == 12 and base["tokens"] > 0
    assert result["n"] == 4 and len(result["samples"]) == 4
    sample = result["samples"][0]
    assert sample["reference"].startswith("{") and sample["messages"][-1]["role"] == "user"
    assert set(sample["scores"]["tuned"]) >= {"exact_match", "contains", "json_valid", "field_match", "regex"}
    assert result["metrics"]["tuned"]["json_valid"] > result["metrics"]["base"]["json_valid"]
    assert {"load", "loss:base", "loss:tuned", "generate:base", "generate:tuned"} <= set(stages)
    assert any("val loss" in line for line in summary_lines(result))


def test_evaluation_is_seeded_and_keeps_ab_ratings(finished_run_dir):
    run = RunDir(finished_run_dir)
    first = evaluate_run(run, n=3, max_new_tokens=12)
    session = load_session(first)
    session.rate("a")
    save_session(run, first, session)
    assert read_eval(run)["ab"]["tally"]["rated"] == 1
    second = evaluate_run(run, n=3, max_new_tokens=12)
    assert [s["tuned"] for s in second["samples"]] == [s["tuned"] for s in first["samples"]]
    assert [s["index"] for s in second["samples"]] == [s["index"] for s in first["samples"]]
    assert second["ab"]["tally"]["rated"] == 1  # same prompts: the ratings survive a re-run
    third = evaluate_run(run, n=3, max_new_tokens=12, seed=7)
    assert "ab" not in third


def test_turn_format_matches_tokenizer_template(tiny_model_dir):
    from transformers import AutoTokenizer

    from core.toy import make_chat_examples

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    fmt = turn_format_for(tokenizer)
    for example in make_chat_examples(4) + make_chat_examples(2, system=False):
        messages = example["messages"]
        assert fmt.render(messages) == tokenizer.apply_chat_template(messages, tokenize=False)
        assert fmt.render(messages[:-1], True) == tokenizer.apply_chat_template(
            messages[:-1], tokenize=False, add_generation_prompt=True)
    assert fmt.stop_tokens[0] == "<|im_end|>" and tokenizer.eos_token in fmt.stop_tokens


def test_turn_format_of_a_llama3_style_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    tokenizer.add_tokens(["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], special_tokens=True)
    tokenizer.chat_template = (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
        "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    fmt = turn_format_for(tokenizer)
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
                {"role": "assistant", "content": "A"}, {"role": "user", "content": "U2"}]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert tokenizer.bos_token + fmt.render(messages, True) == rendered  # BOS is left to the runtime
    assert fmt.stop_tokens[:2] == ["<|eot_id|>", "<|start_header_id|>"] and tokenizer.eos_token in fmt.stop_tokens
    assert "<|end_header_id|>" not in fmt.stop_tokens
