"""The planner: verdicts per cell, largest batch/seq at the boundary, guide start adjusted to fit."""

from dataclasses import replace

from core.catalog import resolve_arch
from core.hardware import resolve_gpu
from core.planner import (GUIDE_START, card_key, dataset_train_tokens, largest_batch, largest_seq, method_setup,
                          plan_table, starting_point, tokens_per_second, training_time_hours)
from core.vram import Setup, estimate


def test_table_on_a_3090_follows_the_estimator():
    card = resolve_gpu("3090")
    rows = plan_table(card, Setup(batch_size=2, seq_len=2048), models=["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B",
                                                                        "deepseek-ai/deepseek-coder-33b-base"])
    cells = {(r.arch.id, r.estimate.setup.method): r for r in rows}
    assert len(rows) == 9
    for r in rows:
        frac = r.estimate.total_gb / 24.0
        expected = "comfortable" if frac < 0.85 else ("tight" if frac <= 1 else "does not fit")
        assert r.estimate.verdict == expected
    assert cells[("meta-llama/Llama-3.1-8B", "qlora")].estimate.verdict == "comfortable"  # guide: quick experiments
    assert cells[("meta-llama/Llama-3.1-8B", "full")].estimate.verdict == "does not fit"  # guide: no full FT on a 3090
    assert cells[("deepseek-ai/deepseek-coder-33b-base", "qlora")].estimate.verdict != "does not fit"  # guide: code
    assert cells[("meta-llama/Llama-3.1-70B", "qlora")].estimate.verdict == "does not fit"  # 4-bit 70B > 35 GB


def test_largest_batch_and_seq_sit_on_the_boundary():
    card_gb = 24.0
    arch = resolve_arch("Qwen/Qwen2.5-7B")
    s = method_setup("lora", Setup(backend="hf", grad_checkpointing="hf", seq_len=2048))
    b = largest_batch(arch, s, card_gb)
    assert b >= 1
    assert estimate(arch, replace(s, batch_size=b)).total_gb <= card_gb
    assert estimate(arch, replace(s, batch_size=b + 1)).total_gb > card_gb
    seq = largest_seq(arch, replace(s, batch_size=1), card_gb)
    assert estimate(arch, replace(s, batch_size=1, seq_len=seq)).total_gb <= card_gb
    assert largest_batch(resolve_arch("meta-llama/Llama-3.1-70B"), method_setup("full"), card_gb) == 0


def test_starting_point_is_the_guide_when_it_fits():
    card = resolve_gpu("a100-80")
    sp = starting_point(resolve_arch("meta-llama/Llama-3.1-8B"), method_setup("qlora"), card)
    assert sp.adjustments == [] and sp.fits
    st = sp.settings
    assert (st["learning_rate"], st["batch_size"], st["grad_accum"], st["epochs"], st["lora_r"], st["lora_alpha"],
            st["max_seq_length"]) == tuple(GUIDE_START[k] for k in ("learning_rate", "batch_size", "grad_accum", "epochs",
                                                                    "lora_r", "lora_alpha", "max_seq_length"))


def test_starting_point_adjusts_until_it_fits():
    card = resolve_gpu("3090")
    setup = method_setup("lora", Setup(backend="hf", grad_checkpointing="none", optimizer="adamw_torch"))
    sp = starting_point(resolve_arch("meta-llama/Llama-3.1-8B"), setup, card)
    assert sp.adjustments, "8B 16-bit LoRA at batch 2 x 2048 without checkpointing cannot fit 24 GB"
    assert sp.settings["batch_size"] == 1 and sp.settings["grad_accum"] == 8  # same effective batch
    assert sp.fits and sp.estimate.total_gb <= 24.0


def test_recommended_seq_from_data_is_used():
    sp = starting_point(resolve_arch("Qwen/Qwen2.5-3B"), method_setup("qlora"), resolve_gpu("3090"), recommended_seq=768)
    assert sp.settings["max_seq_length"] == 768
    assert any("dataset" in a for a in sp.adjustments)


def test_training_time_estimate():
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    assert card_key(resolve_gpu("3090")) == "3090" and card_key(resolve_gpu("h100")) == "h100"
    tps_3090 = tokens_per_second(arch, "lora", "3090")
    assert tps_3090 > 0 and tokens_per_second(arch, "lora", "h100") > tps_3090
    assert tokens_per_second(arch, "qlora", "3090") < tps_3090
    hours = training_time_hours(1_000_000, 3, tps_3090)
    assert hours == 3_000_000 / tps_3090 / 3600
    assert training_time_hours(1_000_000, 3, None) is None
    assert dataset_train_tokens({"train_tokens": 1234}) == 1234
    assert dataset_train_tokens({"token_stats": {"total": 99}}) == 99
    assert dataset_train_tokens({}) is None
