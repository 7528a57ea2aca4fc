"""Out-of-memory recovery options, ranked by predicted peak memory.

Each option is `{id, label, changes, predicted_gb, cost}`: `changes` is a dict of TrainConfig fields
to apply (empty for advice the engine cannot apply itself, like a smaller model). The predicted peak
comes from `core.vram.estimate_for_config` when that estimator is installed; otherwise from the
documented heuristic below, applied to the measured peak (or the estimate) at the time of the OOM:

    halve_batch       0.75   activations scale with the micro-batch; weights and optimizer do not
    grad_checkpoint   0.60   none -> hf keeps one activation per layer;  hf -> unsloth: 0.85
    shorten_seq       0.5 + 0.5 * new/old   activations scale with sequence length
    optimizer_8bit    0.80 (full fine-tuning) / 0.97 (adapters: their optimizer state is small)
    lora_to_qlora     0.45   4-bit base weights
    lower_rank        0.97   halves the adapter and its optimizer state
    fewer_targets     0.95   attention projections only
    smaller_model     0.50   advice only

With the estimator, options are sorted by predicted peak (ties by cost). Without it the heuristic
numbers are too rough to order by, so options are sorted by harm to the result (COST_ORDER: halving
the micro-batch first, since it keeps the effective batch and the results unchanged). Advice-only
options (no changes) always come last."""

from __future__ import annotations

import math
from typing import Any

from core.config import TrainConfig

HEURISTIC = {
    "halve_batch": 0.75,
    "grad_checkpoint": 0.60,
    "grad_checkpoint_unsloth": 0.85,
    "optimizer_8bit_full": 0.80,
    "optimizer_8bit_adapter": 0.97,
    "lora_to_qlora": 0.45,
    "lower_rank": 0.97,
    "fewer_targets": 0.95,
    "smaller_model": 0.50,
}
# Tie-break: lower means less harm to the result (the effective batch is unchanged by halve_batch).
COST_ORDER = ["halve_batch", "grad_checkpoint", "optimizer_8bit", "shorten_seq", "lower_rank",
              "fewer_targets", "lora_to_qlora", "smaller_model"]


def is_oom(exc: BaseException) -> bool:
    """True for torch's OutOfMemoryError and for the CUDA/cuBLAS error texts that mean the same."""
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except Exception:
        pass
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "cublas_status_alloc_failed" in text)


def estimate_gb(config: TrainConfig) -> float | None:
    """The VRAM estimator's total for `config`, or None when the estimator is missing or cannot say."""
    try:
        from core.vram import estimate_for_config  # merged from the planning area; optional here
    except ImportError:
        return None
    try:
        return round(float(estimate_for_config(config).total_gb), 2)
    except Exception:
        return None


def percentile(values: list[int], q: float) -> int:
    if not values:
        return 0
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[k]


def candidate_options(config: TrainConfig, *, lengths: list[int] | None = None, cuda: bool = True) -> list[dict[str, Any]]:
    """Every option that applies to `config`, unranked, with its heuristic factor and cost text."""
    opts: list[dict[str, Any]] = []

    def add(id_: str, label: str, changes: dict[str, Any], factor: float, cost: str) -> None:
        opts.append({"id": id_, "label": label, "changes": changes, "factor": factor, "cost": cost})

    if config.batch_size >= 2:
        b = config.batch_size // 2
        g = config.grad_accum * config.batch_size // b
        add("halve_batch", f"Halve the micro-batch ({config.batch_size} -> {b}) and raise gradient accumulation "
            f"({config.grad_accum} -> {g}); effective batch unchanged", {"batch_size": b, "grad_accum": g},
            HEURISTIC["halve_batch"], "slower steps; same effective batch, same results")
    if config.grad_checkpointing == "none":
        add("grad_checkpoint", "Enable gradient checkpointing", {"grad_checkpointing": "hf"},
            HEURISTIC["grad_checkpoint"], "about 20-30% slower steps")
    elif config.grad_checkpointing == "hf" and config.backend in ("unsloth", "auto"):
        add("grad_checkpoint", "Upgrade to unsloth's offloaded gradient checkpointing", {"grad_checkpointing": "unsloth"},
            HEURISTIC["grad_checkpoint_unsloth"], "slightly slower steps")
    if cuda and config.optimizer in ("adamw_torch", "sgd", "adamw_8bit", "paged_adamw_32bit"):
        new = "paged_adamw_8bit" if config.optimizer == "adamw_8bit" else "adamw_8bit"
        factor = HEURISTIC["optimizer_8bit_full" if config.method == "full" else "optimizer_8bit_adapter"]
        add("optimizer_8bit", f"Use the {new} optimizer", {"optimizer": new}, factor,
            "negligible quality change")
    if lengths:
        p95 = percentile(lengths, 95)
        new_len = max(16, int(math.ceil(p95 / 64) * 64)) if p95 > 64 else max(16, p95)
        if new_len < config.max_seq_length and new_len < max(lengths):
            cut = sum(1 for n in lengths if n > new_len)
            add("shorten_seq", f"Shorten max_seq_length to {new_len} (95th percentile; truncates {cut} of "
                f"{len(lengths)} examples)", {"max_seq_length": new_len},
                0.5 + 0.5 * new_len / max(config.max_seq_length, max(lengths)),
                f"{cut} long examples lose their ends")
    if config.method == "lora" and cuda:
        add("lora_to_qlora", "Switch LoRA to QLoRA (4-bit base weights)", {"method": "qlora", "bits": 4},
            HEURISTIC["lora_to_qlora"], "small quality loss from 4-bit base weights")
    if config.method in ("lora", "qlora"):
        if config.lora_r >= 8:
            r = config.lora_r // 2
            add("lower_rank", f"Lower the LoRA rank ({config.lora_r} -> {r})", {"lora_r": r, "lora_alpha": max(1, config.lora_alpha // 2)},
                HEURISTIC["lower_rank"], "less adapter capacity")
        if config.targets == "all":
            add("fewer_targets", "Adapt attention projections only", {"targets": "attn"},
                HEURISTIC["fewer_targets"], "less adapter capacity")
    add("smaller_model", "Pick a smaller base model in the Plan step and start a new run", {},
        HEURISTIC["smaller_model"], "a different model; this run stops")
    return opts


def ranked_options(
    config: TrainConfig,
    *,
    lengths: list[int] | None = None,
    peak_gb: float | None = None,
    cuda: bool = True,
) -> list[dict[str, Any]]:
    """Options for an OOM with `config`, best first: the estimator's predicted peak when available,
    else the heuristic factor times the measured peak (or the estimate)."""
    base = peak_gb or estimate_gb(config)
    out = []
    for opt in candidate_options(config, lengths=lengths, cuda=cuda):
        predicted = None
        if opt["changes"]:
            try:
                predicted = estimate_gb(config.model_copy(update=opt["changes"]))
            except Exception:
                predicted = None
        source = "estimator" if predicted is not None else "heuristic"
        if predicted is None and base:
            predicted = round(base * opt["factor"], 2)
        cost_rank = COST_ORDER.index(opt["id"]) if opt["id"] in COST_ORDER else len(COST_ORDER)
        out.append({**{k: v for k, v in opt.items() if k != "factor"}, "predicted_gb": predicted,
                    "source": source, "_key": (predicted if predicted is not None else opt["factor"] * 1000, cost_rank)})
    if all(o["source"] == "heuristic" for o in out):
        # Without the estimator, rank by harm first: halving the batch keeps results identical.
        out.sort(key=lambda o: (not o["changes"], COST_ORDER.index(o["id"]) if o["id"] in COST_ORDER else 99))
    else:
        out.sort(key=lambda o: (not o["changes"], o["_key"]))
    for o in out:
        o.pop("_key")
    return out


def best_auto_option(options: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first option the engine can apply by itself (one with changes)."""
    return next((o for o in options if o["changes"]), None)
