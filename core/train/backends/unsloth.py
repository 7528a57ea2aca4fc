"""The unsloth backend: FastLanguageModel loading (4-bit, 16-bit or full), its get_peft_model and
its offloaded gradient checkpointing, then the same SFTTrainer loop, events and recovery as `hf`.
unsloth is imported only here, and only when CUDA and the package are present."""

from __future__ import annotations

from typing import Any

from core.train.backends.hf import ATTN_TARGETS, HFBackend

ALL_TARGETS = ATTN_TARGETS + ["gate_proj", "up_proj", "down_proj"]


class UnslothBackend(HFBackend):
    name = "unsloth"

    def gradient_checkpointing(self) -> bool:
        return False  # unsloth applies its own through get_peft_model

    def load_model(self):
        from unsloth import FastLanguageModel

        from core.train.data import prepare_tokenizer

        cfg = self.config
        model, tokenizer = FastLanguageModel.from_pretrained(
            model_name=cfg.base_model,
            max_seq_length=cfg.max_seq_length,
            dtype=None,
            load_in_4bit=cfg.method == "qlora" or (cfg.method == "lora" and cfg.bits == 4),
            load_in_8bit=cfg.method != "full" and cfg.bits == 8,
            full_finetuning=cfg.method == "full",
            trust_remote_code=cfg.trust_remote_code,
        )
        prepare_tokenizer(tokenizer, cfg.chat_template)
        checkpointing: Any = {"none": False, "hf": True, "unsloth": "unsloth"}[cfg.grad_checkpointing]
        if cfg.method in ("lora", "qlora"):
            model = FastLanguageModel.get_peft_model(
                model, r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                target_modules=ATTN_TARGETS if cfg.targets == "attn" else ALL_TARGETS, bias="none",
                use_gradient_checkpointing=checkpointing, random_state=cfg.seed,
            )
        return model, tokenizer, None
