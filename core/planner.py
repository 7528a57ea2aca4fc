"""The planner: which models and methods fit a card, the largest batch and sequence that fit, starting
hyperparameters from the guide adjusted until they fit, and a rough training-time estimate.

Everything comes from the estimator (core/vram.py); nothing here is a hard-coded table of verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from core.catalog import PICKER_MODELS, Arch, resolve_arch
from core.vram import Estimate, Setup, estimate

METHODS = ("full", "lora", "qlora")
GUIDE_START = {"learning_rate": 2e-4, "batch_size": 2, "grad_accum": 4, "epochs": 3, "lora_r": 16, "lora_alpha": 16,
               "max_seq_length": 2048}
SEQ_LADDER = (256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304, 131072)

# Dense bf16 tensor-core peak (TFLOPS, fp32 accumulate) per card. Throughput assumed = 35% of peak
# (model FLOPs utilization typical of single-GPU LoRA/QLoRA runs), 6 FLOPs per parameter and token for
# full fine-tuning, 4 for LoRA (no weight gradients), QLoRA 20% slower for dequantization. An estimate,
# not a measurement: the Train step shows the real tokens/s.
CARD_TFLOPS = {"3060": 25.0, "3090": 35.6, "4090": 82.6, "a10g": 35.0, "l4": 60.0, "a6000": 38.7, "l40s": 181.0,
               "a100-40": 312.0, "a100-80": 312.0, "h100": 989.0, "h200": 989.0}
MFU = 0.35


def method_setup(method: str, base: Setup | None = None, bits: int | None = None) -> Setup:
    """The Setup for a method, keeping the other knobs of `base` (16-bit LoRA, 4-bit QLoRA, bf16 full)."""
    base = base or Setup()
    if method == "qlora":
        return replace(base, method="qlora", bits=bits if bits in (4, 8) else 4)
    if method == "lora":
        return replace(base, method="lora", bits=16)
    return replace(base, method="full", bits=bits if bits in (16, 32) else 16)


def fits(est: Estimate, card_gb: float) -> bool:
    return est.total_gb <= card_gb


def largest_batch(arch: Arch, setup: Setup, card_gb: float, limit: int = 128) -> int:
    """Largest micro-batch (1..limit) at setup.seq_len that fits the card; 0 if even 1 does not."""
    best = 0
    b = 1
    while b <= limit and fits(estimate(arch, replace(setup, batch_size=b)), card_gb):
        best = b
        b = b * 2 if b >= 8 else b + 1
    return best


def largest_seq(arch: Arch, setup: Setup, card_gb: float) -> int:
    """Largest sequence length on the ladder (256..131072) that fits at setup.batch_size; 0 if none."""
    best = 0
    for seq in SEQ_LADDER:
        if fits(estimate(arch, replace(setup, seq_len=seq)), card_gb):
            best = seq
        else:
            break
    return best


@dataclass
class PlanRow:
    arch: Arch
    estimate: Estimate
    max_batch: int
    max_seq: int

    def to_json(self) -> dict[str, Any]:
        out = self.estimate.to_json()
        out["max_batch"] = self.max_batch
        out["max_seq"] = self.max_seq
        return out


def plan_row(arch: Arch, setup: Setup, card: dict[str, Any]) -> PlanRow:
    card_gb = float(card["memory_gb"])
    est = estimate(arch, setup, gpu_total_gb=card_gb, gpu=card)
    return PlanRow(arch, est, largest_batch(arch, setup, card_gb), largest_seq(arch, replace(setup, batch_size=1), card_gb))


def plan_table(card: dict[str, Any], base: Setup | None = None, models: list[str] | tuple[str, ...] = PICKER_MODELS,
               methods: tuple[str, ...] = METHODS) -> list[PlanRow]:
    """Models x methods for `card` (from core.hardware.resolve_gpu), in model order then method order."""
    rows = []
    for model in models:
        arch = resolve_arch(model, allow_download=False)
        for method in methods:
            rows.append(plan_row(arch, method_setup(method, base), card))
    return rows


@dataclass
class StartingPoint:
    """The guide's starting hyperparameters, adjusted step by step until the estimate fits."""

    settings: dict[str, Any]
    estimate: Estimate
    adjustments: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.estimate.verdict != "does not fit"

    def to_json(self) -> dict[str, Any]:
        return {"settings": self.settings, "estimate": self.estimate.to_json(), "adjustments": self.adjustments,
                "fits": self.fits}


def starting_point(arch: Arch, setup: Setup, card: dict[str, Any], recommended_seq: int | None = None) -> StartingPoint:
    """Start from the guide (lr 2e-4, batch 2, grad accum 4, 3 epochs, r 16, alpha 16, seq 2048, or the
    data's recommended length), then: batch 2 -> 1 with grad accum doubled, checkpointing on, 8-bit
    optimizer, then halve the sequence down to 512, until the estimate is below the card."""
    card_gb = float(card["memory_gb"])
    seq = int(recommended_seq or setup.seq_len or GUIDE_START["max_seq_length"])
    s = replace(setup, batch_size=GUIDE_START["batch_size"], seq_len=seq, lora_r=GUIDE_START["lora_r"])
    grad_accum = GUIDE_START["grad_accum"]
    notes = [f"sequence length {seq} from the dataset's token lengths"] if recommended_seq else []

    def est(x: Setup) -> Estimate:
        return estimate(arch, x, gpu_total_gb=card_gb, gpu=card)

    steps = []
    if s.batch_size > 1:
        steps.append(("batch 2 -> 1, grad accum 4 -> 8 (same effective batch)", lambda x: replace(x, batch_size=1)))
    if s.grad_checkpointing == "none":
        ckpt = "unsloth" if s.backend == "unsloth" else "hf"
        steps.append((f"gradient checkpointing on ({ckpt})", lambda x: replace(x, grad_checkpointing=ckpt)))
    if s.optimizer in ("adamw_torch", "paged_adamw_32bit"):
        steps.append(("8-bit AdamW optimizer", lambda x: replace(x, optimizer="adamw_8bit")))
    current = est(s)
    for label, change in steps:
        if current.verdict != "does not fit":
            break
        s = change(s)
        if s.batch_size == 1 and grad_accum == GUIDE_START["grad_accum"]:
            grad_accum *= 2
        notes.append(label)
        current = est(s)
    while current.verdict == "does not fit" and s.seq_len > 512:
        new = max(512, s.seq_len // 2)
        notes.append(f"sequence length {s.seq_len} -> {new}")
        s = replace(s, seq_len=new)
        current = est(s)
    if current.verdict == "does not fit":
        notes.append("still does not fit: pick a smaller model, QLoRA, or a bigger card")
    settings = {
        "learning_rate": GUIDE_START["learning_rate"], "epochs": GUIDE_START["epochs"],
        "batch_size": s.batch_size, "grad_accum": grad_accum, "max_seq_length": s.seq_len,
        "lora_r": s.lora_r, "lora_alpha": GUIDE_START["lora_alpha"], "targets": s.targets, "optimizer": s.optimizer,
        "grad_checkpointing": s.grad_checkpointing, "backend": s.backend, "method": s.method, "bits": s.bits,
    }
    return StartingPoint(settings, current, notes)


def tokens_per_second(arch: Arch, method: str, card_key: str | None) -> float | None:
    """Estimated training throughput (tokens/s) on a preset card; None for unknown cards."""
    tflops = CARD_TFLOPS.get((card_key or "").lower())
    if not tflops:
        return None
    flops_per_token = (6 if method == "full" else 4) * arch.params
    tps = MFU * tflops * 1e12 / flops_per_token
    return tps * (0.8 if method == "qlora" else 1.0)


def training_time_hours(train_tokens: int, epochs: float, tps: float | None, gpus: int = 1) -> float | None:
    """tokens x epochs / throughput (x GPUs for data parallel), in hours."""
    if not tps or not train_tokens:
        return None
    return train_tokens * epochs / (tps * max(1, gpus)) / 3600


def card_key(card: dict[str, Any]) -> str | None:
    """The preset key of a resolved card (by name), for the throughput table."""
    from core.hardware import CARD_PRESETS

    name = str(card.get("name", "")).lower()
    for preset in CARD_PRESETS:
        if preset.name.lower() == name:
            return preset.key
    for preset in sorted(CARD_PRESETS, key=lambda p: -len(p.key)):
        if preset.key.replace("-", " ") in name or preset.key in name:
            return preset.key
    return None


def dataset_train_tokens(data_state: dict[str, Any]) -> int | None:
    """Total tokens in the training split, from the Data step's section of the project file."""
    for key in ("train_tokens", "total_tokens"):
        if isinstance(data_state.get(key), (int, float)):
            return int(data_state[key])
    stats = data_state.get("token_stats") or data_state.get("stats") or {}
    if isinstance(stats, dict):
        for key in ("train_tokens", "total_tokens", "total"):
            if isinstance(stats.get(key), (int, float)):
                return int(stats[key])
    return None
