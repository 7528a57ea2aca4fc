"""The estimator's components, pinned against hand-computed values for two architectures:
Llama 3.1 8B (128k vocabulary, GQA) and Mistral 7B v0.3 (32k vocabulary)."""

import pytest

from core.catalog import resolve_arch
from core.config import TrainConfig
from core.vram import BREAKDOWN_KEYS, FITTED, GB, Setup, estimate, estimate_for_config, verdict_for

# Llama-3.1-8B: h 4096, 32 layers, 32 heads, 8 kv heads, head_dim 128, I 14336, V 128256, untied.
LLAMA_LINEAR = 32 * (4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336)  # 6_979_321_856
LLAMA_EMBED = 128256 * 4096  # 525_336_576 (and the same again for lm_head)
LLAMA_NORMS = 32 * 2 * 4096 + 4096
LLAMA_LORA_R16_ALL = 32 * 16 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096) + 3 * (4096 + 14336))


def test_llama_param_counts_match_published():
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    assert LLAMA_LINEAR == 6_979_321_856
    assert arch.linear_params == LLAMA_LINEAR
    assert arch.params == LLAMA_LINEAR + 2 * LLAMA_EMBED + LLAMA_NORMS
    assert round(arch.params / 1e9, 2) == 8.03  # model_configs.json params_b_computed
    assert arch.lora_params(16, "all") == LLAMA_LORA_R16_ALL == 41_943_040  # vram_formulas.md 1.2


def test_llama_qlora_hf_components():
    arch = resolve_arch("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit")
    s = Setup(method="qlora", bits=4, batch_size=1, seq_len=1024, lora_r=16, targets="all", optimizer="adamw_8bit",
              grad_checkpointing="hf", backend="hf", metric="allocated")
    b = estimate(arch, s).breakdown
    T = 1024
    # NF4 + double quant on the block linears; embeddings, lm_head and norms stay bf16
    assert b["weights_gb"] * GB == pytest.approx(LLAMA_LINEAR * 0.5161 + (2 * LLAMA_EMBED + LLAMA_NORMS) * 2)
    assert b["trainable_gb"] * GB == pytest.approx(LLAMA_LORA_R16_ALL * 4)  # fp32 adapters
    assert b["gradients_gb"] * GB == pytest.approx(LLAMA_LORA_R16_ALL * 4)
    assert b["optimizer_gb"] * GB == pytest.approx(LLAMA_LORA_R16_ALL * 2)  # 8-bit AdamW
    # 12h norms + 4 q_dim + 4 kv_dim + 8I SwiGLU, plus what bitsandbytes' MatMul4Bit holds for backward that a
    # frozen 16-bit linear would not: attention input 2h, o_proj input 2 q_dim, down_proj input 2I
    # (re-derived when that term replaced the single 2h input copy): 229,376 B per token
    per_layer = 12 * 4096 + 4 * 4096 + 4 * 1024 + 8 * 14336 + (2 * 4096 + 2 * 4096 + 2 * 14336)
    assert per_layer == 229_376
    assert b["activations_gb"] * GB == pytest.approx(32 * 2 * 4096 * T + per_layer * T + 2 * 2 * 4096 * T)
    assert b["logits_gb"] * GB == pytest.approx(12 * T * 128256)  # 1.58 GB: the 128k vocabulary
    assert b["overhead_gb"] * GB == pytest.approx(4096 * 14336 * 2 * 2)  # one dequantized MLP weight
    assert b["logits_gb"] > b["activations_gb"] * 3  # the logits dominate for 128k vocabularies


def test_llama_upcast_and_double_quant_change_weights_as_computed():
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    base = Setup(method="qlora", bits=4, backend="hf", metric="allocated")
    no_dq = estimate(arch, Setup(**{**base.__dict__, "double_quant": False})).breakdown["weights_gb"]
    dq = estimate(arch, base).breakdown["weights_gb"]
    assert (no_dq - dq) * GB == pytest.approx(LLAMA_LINEAR * (0.0625 - 0.0161))
    up = estimate(arch, Setup(**{**base.__dict__, "upcast_fp32": True})).breakdown["weights_gb"]
    assert (up - dq) * GB == pytest.approx((2 * LLAMA_EMBED + LLAMA_NORMS) * 2)  # bf16 -> fp32


def test_mistral_lora_unsloth_components():
    arch = resolve_arch("mistralai/Mistral-7B-v0.3")
    params = 32 * (4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336) + 2 * 32768 * 4096 + 32 * 2 * 4096 + 4096
    assert arch.params == params == 7_248_023_552
    lora = 32 * 8 * ((4096 + 4096) + 2 * (4096 + 1024) + (4096 + 4096))  # r 8 on q, k, v, o
    s = Setup(method="lora", bits=16, batch_size=2, seq_len=512, lora_r=8, targets="attn", optimizer="adamw_torch",
              grad_checkpointing="unsloth", backend="unsloth", metric="nvidia-smi")
    b = estimate(arch, s).breakdown
    T = 1024
    assert b["weights_gb"] * GB == pytest.approx(params * 2)
    assert b["trainable_gb"] * GB == pytest.approx(lora * 4)
    assert b["gradients_gb"] * GB == pytest.approx(lora * 4)
    assert b["optimizer_gb"] * GB == pytest.approx(lora * (8 + 4))  # fp32 Adam states + foreach temporaries
    unsloth_layer = 8 * 4096 + 4 * 4096 + 4 * 1024 + 4 * 14336  # fused RMSNorm / SwiGLU kernels
    acts = unsloth_layer * T + 2 * 2 * 4096 * T
    assert b["activations_gb"] * GB == pytest.approx(acts)
    logits = 12 * min(T, FITTED["unsloth_logit_chunk_tokens"]) * 32768
    assert b["logits_gb"] * GB == pytest.approx(logits)
    slack = FITTED["allocator_slack"] * (acts + logits + lora * 4)
    assert b["overhead_gb"] * GB == pytest.approx(slack + FITTED["cuda_context_gb"] * GB)


def test_breakdown_sums_to_total_and_metrics_are_ordered():
    arch = resolve_arch("Qwen/Qwen2.5-7B")
    totals = {}
    for metric in ("allocated", "reserved", "nvidia-smi"):
        est = estimate(arch, Setup(metric=metric))
        assert set(est.breakdown) == set(BREAKDOWN_KEYS)
        assert est.total_gb == pytest.approx(sum(est.breakdown.values()))
        totals[metric] = est.total_gb
    assert totals["allocated"] < totals["reserved"] < totals["nvidia-smi"]


def test_knobs_move_the_estimate_the_right_way():
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    base = Setup(method="lora", bits=16, backend="hf", grad_checkpointing="hf")

    def total(**kw):
        return estimate(arch, Setup(**{**base.__dict__, **kw})).total_gb

    assert total(batch_size=4) > total(batch_size=2)
    assert total(seq_len=4096) > total(seq_len=2048)
    assert total(grad_checkpointing="none") > total(grad_checkpointing="hf")
    assert total(lora_r=64) > total(lora_r=8)
    assert total(method="qlora", bits=4) < total()
    full = Setup(method="full", bits=16, backend="hf", grad_checkpointing="hf", optimizer="adamw_torch")
    assert estimate(arch, Setup(**{**full.__dict__, "optimizer": "adamw_8bit"})).total_gb < estimate(arch, full).total_gb
    fsdp = estimate(arch, Setup(**{**full.__dict__, "gpus": 4, "sharding": "fsdp"})).total_gb
    ddp = estimate(arch, Setup(**{**full.__dict__, "gpus": 4, "sharding": "ddp"})).total_gb
    assert fsdp < estimate(arch, full).total_gb < ddp


@pytest.mark.parametrize("total, card, verdict", [
    (20.3, 24, "comfortable"), (20.4, 24, "tight"), (24.0, 24, "tight"), (24.01, 24, "does not fit"), (5, None, "unknown"),
])
def test_verdict_thresholds(total, card, verdict):
    assert verdict_for(total, card) == verdict


def test_estimate_for_config_contract():
    cfg = TrainConfig(base_model="unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", method="qlora", bits=4, batch_size=2,
                      max_seq_length=2048, backend="hf", grad_checkpointing="hf")
    est = estimate_for_config(cfg, gpu_total_gb=24.0)
    assert set(est.breakdown) == set(BREAKDOWN_KEYS)
    assert est.total_gb == pytest.approx(sum(est.breakdown.values()))
    assert est.verdict in ("comfortable", "tight")
    smaller = estimate_for_config(cfg.model_copy(update={"batch_size": 1}), gpu_total_gb=24.0)
    assert smaller.total_gb < est.total_gb
    js = est.to_json()
    assert set(js["breakdown"]) == set(BREAKDOWN_KEYS) and js["verdict"] == est.verdict
    assert js["total_gb"] == round(est.total_gb, 2)
    # without gpu_total_gb the config's target card (3090 by default) is used
    assert estimate_for_config(cfg).gpu_total_gb == 24.0


def test_logits_by_loss_implementation():
    """Per-logit bytes for each loss path, by hand: HF upcast 12 B, 16-bit loss (Qwen v1) 8 B, litgpt's
    fp32-converted chunks 8 B, Cut Cross-Entropy no vocabulary term at all."""
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    T, V = 2 * 2048, 128256  # more tokens than unsloth's fused-loss chunk
    base = Setup(method="lora", bits=16, batch_size=2, seq_len=2048, backend="hf", grad_checkpointing="hf", metric="allocated")

    def logits(**kw):
        return estimate(arch, Setup(**{**base.__dict__, **kw})).breakdown["logits_gb"] * GB

    assert logits(loss="full") == pytest.approx(12 * T * V)
    assert logits(loss="full", logits_upcast=False) == pytest.approx(8 * T * V)
    assert logits(loss="chunked_head") == pytest.approx(8 * T * V)
    assert logits(loss="cce") == pytest.approx((4 + 4 * 4096) * T)
    assert logits(loss="cce") < logits(loss="fused") < logits(loss="full")


def test_quant_kernels_hold_different_inputs():
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    s = Setup(method="qlora", bits=4, batch_size=1, seq_len=1000, backend="hf", grad_checkpointing="none", metric="allocated")

    def acts(kernel):
        return estimate(arch, Setup(**{**s.__dict__, "quant_kernel": kernel})).breakdown["activations_gb"] * GB

    T, L = 1000, 32
    assert acts("bnb") - acts("fused") == pytest.approx(L * T * (2 * 4096 + 2 * 14336))  # 2h + 2q + 2I vs 2h
    assert acts("fused") - acts("torchao") == pytest.approx(L * T * 2 * 4096)  # torchao saves no input copy


def test_deepspeed_zero2_master_copies_and_buckets():
    """ZeRO-2 fp16 mixed precision on LoRA: 16-bit adapters + fp32 master (6 B), 16-bit + fp32 gradient
    partitions (6 B), fp32 Adam (8 B), and two 2e8-element fp16 buckets (0.8 GB) whatever the model size."""
    arch = resolve_arch("meta-llama/Llama-3.1-8B")
    s = Setup(method="lora", bits=16, lora_r=16, targets="all", optimizer="adamw_torch", backend="hf", metric="allocated",
              fused_optimizer=True)
    plain = estimate(arch, s).breakdown
    ds = estimate(arch, Setup(**{**s.__dict__, "zero_stage": 2})).breakdown
    n = LLAMA_LORA_R16_ALL
    assert ds["trainable_gb"] * GB == pytest.approx(n * 6)
    assert ds["gradients_gb"] * GB == pytest.approx(n * 6)
    assert ds["optimizer_gb"] * GB == pytest.approx(n * 8)
    assert (ds["overhead_gb"] - plain["overhead_gb"]) * GB == pytest.approx(2 * 2e8 * 2)
