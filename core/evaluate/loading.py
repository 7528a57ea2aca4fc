"""Loading what a finished run produced: its frozen config, its validation split, the base model with
the run's LoRA adapter on top (so one copy of the weights serves as both base and tuned model through
`disable_adapter()`), and the tokenizer the run trained with (saved next to the adapter)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.config import TrainConfig, read_yaml_config
from core.errors import TunewizError
from core.runs import RunDir


def run_config(run: RunDir) -> TrainConfig:
    """The run's frozen `config.yaml`, or a clear error when the folder is not a run."""
    if not run.config_file.exists():
        raise TunewizError(f"{run.path}: no config.yaml; is this a tunewiz run folder?", exit_code=2)
    return read_yaml_config(run.config_file)


def resolve_data_file(run: RunDir, name: str | None) -> Path | None:
    """A data file named in the config: absolute as written, else relative to the run's project."""
    if not name:
        return None
    path = Path(name)
    if path.is_absolute():
        return path
    for root in (run.path, run.path.parent, run.path.parent.parent):
        if (root / path).exists():
            return root / path
    return run.path.parent.parent / path


def read_chat_jsonl(path: Path) -> list[dict[str, Any]]:
    """Rows with a `messages` list from a JSONL file; other rows are skipped."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise TunewizError(f"{path}: validation file not found", hint="the Data step writes val.jsonl", exit_code=2) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise TunewizError(f"{path}, line {number}: not valid JSON") from None
        if isinstance(row, dict) and isinstance(row.get("messages"), list) and row["messages"]:
            rows.append(row)
    return rows


def validation_examples(run: RunDir, config: TrainConfig) -> list[dict[str, Any]]:
    path = resolve_data_file(run, config.val_file)
    if path is None:
        raise TunewizError(
            f"{run.config_file}: val_file is empty, so there is no held-out split to evaluate on",
            hint="create a split in the Data step (or `tunewiz data split`) and train again",
        )
    rows = read_chat_jsonl(path)
    if not rows:
        raise TunewizError(f"{path}: no conversations with a `messages` list")
    return rows


def adapter_dir(run: RunDir) -> Path:
    if not (run.adapter / "adapter_config.json").exists():
        if (run.model / "config.json").exists():
            raise TunewizError(f"{run.path}: a full fine-tune (model/), not a LoRA adapter; this needs an adapter run")
        raise TunewizError(f"{run.path}: no adapter/ folder yet; has the run finished?", hint="`tunewiz runs` shows its state")
    return run.adapter


def pick_device() -> tuple[str, Any]:
    """('cuda', bf16/fp16) on a GPU, ('cpu', fp32) otherwise."""
    import torch

    if torch.cuda.is_available():
        return "cuda", torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return "cpu", torch.float32


def load_tokenizer(run: RunDir, config: TrainConfig):
    from transformers import AutoTokenizer

    source = run.adapter if (run.adapter / "tokenizer_config.json").exists() else config.base_model
    tokenizer = AutoTokenizer.from_pretrained(str(source), trust_remote_code=config.trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(config: TrainConfig, *, device: str, dtype: Any, quantize_4bit: bool = False):
    """The base model in `dtype` (or 4-bit for QLoRA evaluation on a GPU), in eval mode on `device`."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": config.trust_remote_code}
    if quantize_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype, bnb_4bit_use_double_quant=True
        )
        kwargs["device_map"] = {"": 0}
    try:
        model = AutoModelForCausalLM.from_pretrained(config.base_model, **kwargs)
    except OSError as exc:
        raise TunewizError(f"cannot load base model {config.base_model!r}: {exc}") from None
    if not quantize_4bit:
        model.to(device)
    return model.eval()


def load_tuned_model(run: RunDir, config: TrainConfig | None = None, *, device: str | None = None, dtype: Any = None):
    """(PeftModel, tokenizer, device): base + the run's adapter. `with model.disable_adapter():` gives
    the base model's outputs from the same weights."""
    import importlib.util

    from peft import PeftModel

    config = config or run_config(run)
    auto_device, auto_dtype = pick_device()
    device = device or auto_device
    dtype = dtype or auto_dtype
    quantize_4bit = (
        config.bits == 4 and device == "cuda" and importlib.util.find_spec("bitsandbytes") is not None
    )
    base = load_base_model(config, device=device, dtype=dtype, quantize_4bit=quantize_4bit)
    model = PeftModel.from_pretrained(base, str(adapter_dir(run)))
    return model.eval(), load_tokenizer(run, config), device


def project_run(project) -> RunDir | None:
    """The run the wizard works on: the Train step's `active_run` (id or folder), else the newest run
    in the project's runs folder; None when there is none."""
    from core.runs import find_run

    active = (project.state.train or {}).get("active_run")
    for ref in ([str(active)] if active else []) + [None]:
        try:
            return find_run(project.runs_dir, ref)
        except TunewizError:
            continue
    return None
