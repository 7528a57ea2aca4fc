"""An Axolotl config carrying a run's choices, for people who train on several GPUs with Axolotl.
The datasets use Axolotl's `chat_template` type over the OpenAI `messages` field, training on
assistant turns only when the run did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import TrainConfig

TARGETS = {
    "attn": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "all": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
}
OPTIMIZERS = {"adamw_torch": "adamw_torch", "adamw_8bit": "adamw_bnb_8bit", "paged_adamw_8bit": "paged_adamw_8bit",
              "paged_adamw_32bit": "paged_adamw_32bit", "sgd": "sgd"}


def _dataset(path: str, assistant_only: bool) -> dict[str, Any]:
    return {
        "path": path,
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"] if assistant_only else ["system", "user", "assistant"],
        "train_on_eos": "turn",
    }


def axolotl_config(config: TrainConfig, output_dir: str = "./outputs/tunewiz-axolotl") -> dict[str, Any]:
    """The Axolotl YAML (as a dict) equivalent to `config`."""
    adapter = {"qlora": "qlora", "lora": "lora", "full": None}[config.method]
    out: dict[str, Any] = {
        "base_model": config.base_model,
        "trust_remote_code": config.trust_remote_code,
        "load_in_4bit": config.method == "qlora" or config.bits == 4,
        "load_in_8bit": config.bits == 8 and config.method != "qlora",
        "chat_template": config.chat_template or "tokenizer_default",
        "datasets": [_dataset(config.train_file, config.assistant_only_loss)],
        "val_set_size": 0.0,
        "sequence_len": config.max_seq_length,
        "sample_packing": False,
        "pad_to_sequence_len": False,
        "micro_batch_size": config.batch_size,
        "gradient_accumulation_steps": config.grad_accum,
        "num_epochs": config.epochs,
        "optimizer": OPTIMIZERS[config.optimizer],
        "lr_scheduler": "linear",
        "learning_rate": config.learning_rate,
        "warmup_steps": config.warmup_steps,
        "weight_decay": config.weight_decay,
        "train_on_inputs": not config.assistant_only_loss,
        "bf16": "auto",
        "tf32": True,
        "gradient_checkpointing": config.grad_checkpointing != "none",
        "logging_steps": config.logging_steps,
        "eval_steps": config.eval_steps,
        "save_steps": config.save_steps,
        "save_total_limit": config.save_total_limit,
        "seed": config.seed,
        "output_dir": output_dir,
    }
    if adapter:
        out.update({
            "adapter": adapter,
            "lora_r": config.lora_r,
            "lora_alpha": config.lora_alpha,
            "lora_dropout": config.lora_dropout,
            "lora_target_modules": TARGETS[config.targets],
        })
    if config.val_file:
        out["test_datasets"] = [{**_dataset(config.val_file, config.assistant_only_loss), "split": "train"}]
    if config.max_steps > 0:
        out["max_steps"] = config.max_steps
    if config.early_stop:
        out["early_stopping_patience"] = 3
    return out


def write_axolotl_config(config: TrainConfig, path: str | Path, output_dir: str | None = None) -> Path:
    import yaml

    path = Path(path)
    data = axolotl_config(config, output_dir or "./outputs/tunewiz-axolotl")
    header = (
        "# Axolotl config written by tunewiz from a run's choices.\n"
        f"# Train on several GPUs: accelerate launch -m axolotl.cli.train {path.name}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
