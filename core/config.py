"""One typed training config: every field has help text and a default from the guide's
Hyperparameters table and its "3090 Starting Point" (lr 2e-4, batch 2, grad accum 4, 3 epochs,
r 16, alpha 16, seq 2048). The same model serves the YAML files, the CLI's `--set`, the wizard's
help and validation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ConfigError

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")

Method = Literal["full", "lora", "qlora"]
Backend = Literal["auto", "unsloth", "hf", "openai", "together"]
HOSTED_BACKENDS = ("openai", "together")
Optimizer = Literal["adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "sgd"]
Checkpointing = Literal["none", "hf", "unsloth"]
Targets = Literal["attn", "all"]
OnOom = Literal["ask", "auto", "stop"]


class TrainConfig(BaseModel):
    """Everything a training run needs. Frozen into the run folder as YAML when a run starts."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    base_model: str = Field(
        "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit",
        description="Model id or local folder to fine-tune (the guide's QLoRA example model by default).",
    )
    method: Method = Field("qlora", description="full: all weights; lora: 16-bit base + adapters; qlora: 4-bit base + adapters.")
    bits: Literal[4, 8, 16, 32] = Field(4, description="Precision of the frozen base weights (4 for QLoRA, 16 for LoRA).")
    backend: Backend = Field("auto", description="auto picks unsloth when CUDA and unsloth are present, else transformers+peft+trl; openai or together fine-tune through that provider's API.")
    train_file: str = Field("train.jsonl", description="Training split in chat `messages` JSONL (written by the Data step).")
    val_file: str | None = Field("val.jsonl", description="Validation split; empty to skip evaluation.")
    chat_template: str | None = Field(None, description="Named chat template to use instead of the tokenizer's own.")
    assistant_only_loss: bool = Field(True, description="Train only on assistant tokens (recommended).")
    learning_rate: float = Field(2e-4, gt=0, le=1.0, description="Step size; typical 1e-5 to 2e-4.")
    epochs: float = Field(3, gt=0, le=100, description="Full passes through the data; typical 1-5.")
    max_steps: int = Field(-1, ge=-1, description="Stop after this many optimizer steps (-1: use epochs).")
    batch_size: int = Field(2, ge=1, le=4096, description="Micro-batch per GPU; typical 2-8, limited by VRAM.")
    grad_accum: int = Field(4, ge=1, le=4096, description="Gradient accumulation; effective batch = batch_size x grad_accum x GPUs.")
    max_seq_length: int = Field(2048, ge=16, le=1_048_576, description="Context length in tokens; typical 512-4096.")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank; 8, 16, 32 or 64.")
    lora_alpha: int = Field(16, ge=1, le=4096, description="LoRA scaling; usually equal to lora_r.")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the adapters (regularization against overfitting).")
    targets: Targets = Field("all", description="attn: q,k,v,o projections; all: attention and MLP projections.")
    optimizer: Optimizer = Field("adamw_8bit", description="Optimizer; 8-bit and paged variants save memory.")
    grad_checkpointing: Checkpointing = Field("unsloth", description="Recompute activations to save memory: none, hf, or unsloth (offloaded).")
    warmup_steps: int = Field(10, ge=0, description="Linear learning-rate warmup steps.")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    logging_steps: int = Field(1, ge=1, description="Write a step event every N optimizer steps.")
    eval_steps: int = Field(50, ge=1, description="Evaluate on the validation split every N steps.")
    save_steps: int = Field(100, ge=1, description="Save a checkpoint every N steps.")
    save_total_limit: int = Field(3, ge=1, description="Keep at most this many checkpoints.")
    seed: int = Field(42, description="Random seed for data order, initialization and sampling.")
    gpus: int = Field(1, ge=1, le=64, description="GPUs to train on; more than one runs under `accelerate launch`.")
    gpu: str = Field("3090", description="Target card for planning when none is detected (e.g. 3090, 4090, a100-80, 24GB).")
    on_oom: OnOom = Field("ask", description="On out-of-memory: ask (wait for a choice), auto (apply the best fix), stop.")
    oom_retries: int = Field(3, ge=0, le=20, description="How many automatic OOM recoveries before giving up.")
    early_stop: bool = Field(False, description="Stop when validation loss rises for several evaluations.")
    trust_remote_code: bool = Field(False, description="Run model code from the hub; off unless you trust the model.")
    output_dir: str | None = Field(None, description="Runs folder override (default: runs/ in the project).")

    @classmethod
    def help_for(cls, name: str) -> str:
        return cls.model_fields[name].description or ""


def allowed_values(model: type[BaseModel], field: str) -> str | None:
    """The allowed values of a Literal field, as text, or None for other fields."""
    import typing

    info = model.model_fields.get(field)
    if info is None:
        return None
    args = typing.get_args(info.annotation)
    if args and all(isinstance(a, (str, int)) for a in args):
        return ", ".join(str(a) for a in args)
    return None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    """Turn pydantic's error into lines naming the file, the field and the allowed values."""
    lines = [f"{source}: invalid settings"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        field = str(err["loc"][-1]) if err["loc"] else ""
        got = err.get("input")
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            known = ", ".join(sorted(model.model_fields))
            lines.append(f"  {loc}: unknown field (known fields: {known})")
            continue
        allowed = allowed_values(model, field)
        extra = f"; allowed: {allowed}" if allowed else ""
        lines.append(f"  {loc}: {msg} (got {got!r}){extra}")
    return "\n".join(lines)


def load_config(data: dict[str, Any], source: str = "config") -> TrainConfig:
    try:
        return TrainConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, TrainConfig, source)) from None


def parse_set_overrides(pairs: list[str]) -> dict[str, Any]:
    """Parse `key=value` pairs (CLI `--set`) with YAML scalars: `lr=1e-4`, `early_stop=true`."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        key, _, raw = pair.partition("=")
        key = key.strip()
        if key not in TrainConfig.model_fields:
            raise ConfigError(f"--set {key}: unknown field (known fields: {', '.join(sorted(TrainConfig.model_fields))})")
        value = yaml.safe_load(raw) if raw.strip() else None
        if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            value = float(value)  # YAML 1.1 reads 1e-4 as a string
        out[key] = value
    return out


def read_yaml_config(path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Load a training config YAML (defaults, then the file, then `overrides`)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such config file")
    data = read_yaml_mapping(path)
    data.update(overrides or {})
    return load_config(data, str(path))


def read_yaml_mapping(path: Path, hint: str = "") -> dict[str, Any]:
    """A YAML file whose top level is a mapping; errors name the file, line and column."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}){hint}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level{hint}")
    return data
