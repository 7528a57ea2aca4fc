"""The transformers + peft + trl backend: SFTTrainer with LoRA, QLoRA (bitsandbytes 4-bit NF4 or
8-bit) or full fine-tuning, on CPU or CUDA, single process or under `accelerate launch`."""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path
from typing import Any

from core.errors import TunewizError
from core.train.backends.base import TrainerBackend, TrainResult

ATTN_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]
CPU_OPTIMIZERS = {"adamw_torch", "sgd"}


def target_modules(targets: str) -> list[str] | str:
    return ATTN_TARGETS if targets == "attn" else "all-linear"


def quiet_progress_bars() -> None:
    """train.log is for the trainer's messages; per-map progress bars would drown them."""
    try:
        import datasets
        import transformers

        datasets.disable_progress_bars()
        transformers.utils.logging.disable_progress_bar()
    except Exception:
        pass


def check_assistant_turns(dataset, source: str) -> None:
    """With assistant-only loss, every example needs an assistant turn, or nothing of it is trained."""
    missing = [i for i, msgs in enumerate(dataset["messages"], 1)
               if not any(m.get("role") == "assistant" and m.get("content") for m in msgs or [])]
    if len(missing) == len(dataset):
        raise TunewizError(
            f"every label is masked: none of the {len(dataset)} examples in {source} has an assistant turn, "
            "and only assistant tokens are trained",
            hint="the data needs assistant replies (check the role names), or set assistant_only_loss: false; "
            "a chat template must mark assistant turns with {% generation %}",
        )
    if missing:
        raise TunewizError(
            f"{source}: {len(missing)} of {len(dataset)} examples have no assistant turn (first: example {missing[0]})",
            hint="drop or fix them in the Data step, or set assistant_only_loss: false",
        )


class HFBackend(TrainerBackend):
    name = "hf"

    trainer: Any = None
    tokenizer: Any = None

    # --- loading ------------------------------------------------------------------------------
    @property
    def cuda(self) -> bool:
        import torch

        return torch.cuda.is_available()

    def compute_dtype(self):
        import torch

        if not self.cuda:
            return torch.float32
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

    def load_tokenizer(self):
        from transformers import AutoTokenizer

        from core.train.data import prepare_tokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.config.base_model, trust_remote_code=self.config.trust_remote_code)
        prepare_tokenizer(tokenizer, self.config.chat_template)
        return tokenizer

    def load_model(self):
        """(model, tokenizer, peft_config or None). Subclasses may return a model already wrapped with adapters."""
        from transformers import AutoModelForCausalLM

        cfg = self.config
        kwargs: dict[str, Any] = {"trust_remote_code": cfg.trust_remote_code, "dtype": self.compute_dtype()}
        if cfg.method == "qlora" or (cfg.method == "lora" and cfg.bits in (4, 8)):
            if not self.cuda:
                raise TunewizError(
                    f"method {cfg.method} with {cfg.bits}-bit base weights needs a CUDA GPU (bitsandbytes)",
                    hint="on CPU use method: lora with bits: 16, or method: full",
                )
            from transformers import BitsAndBytesConfig

            if cfg.bits == 8:
                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
            else:
                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=self.compute_dtype(),
                )
            kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
        try:
            model = AutoModelForCausalLM.from_pretrained(cfg.base_model, **kwargs)
        except OSError as exc:
            raise TunewizError(f"cannot load base_model {cfg.base_model!r}: {str(exc).splitlines()[0]}",
                               hint="check the model id or folder; gated models need `hf auth login`") from None
        tokenizer = self.load_tokenizer()
        peft_config = None
        if cfg.method in ("lora", "qlora"):
            from peft import LoraConfig

            peft_config = LoraConfig(
                r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                target_modules=target_modules(cfg.targets), bias="none", task_type="CAUSAL_LM",
            )
        return model, tokenizer, peft_config

    def gradient_checkpointing(self) -> bool:
        # On CPU memory is rarely the limit and recomputation is pure cost: only when asked for as "hf".
        if not self.cuda:
            return self.config.grad_checkpointing == "hf"
        return self.config.grad_checkpointing != "none"

    def optimizer(self) -> str:
        if not self.cuda and self.config.optimizer not in CPU_OPTIMIZERS:
            return "adamw_torch"  # bitsandbytes optimizers need CUDA
        return self.config.optimizer

    def sft_config(self, has_eval: bool, conversational: bool):
        from trl import SFTConfig

        cfg = self.config
        bf16 = self.cuda and self.compute_dtype().__repr__().endswith("bfloat16")
        return SFTConfig(
            output_dir=str(self.run.checkpoints),
            per_device_train_batch_size=cfg.batch_size,
            per_device_eval_batch_size=cfg.batch_size,
            gradient_accumulation_steps=cfg.grad_accum,
            learning_rate=cfg.learning_rate,
            num_train_epochs=cfg.epochs,
            max_steps=self.max_steps if self.max_steps else cfg.max_steps,
            warmup_steps=cfg.warmup_steps,
            weight_decay=cfg.weight_decay,
            logging_steps=cfg.logging_steps,
            logging_nan_inf_filter=False,
            eval_strategy="steps" if has_eval else "no",
            eval_steps=cfg.eval_steps,
            save_strategy="steps",
            save_steps=cfg.save_steps,
            save_total_limit=cfg.save_total_limit,
            seed=cfg.seed,
            data_seed=cfg.seed,
            bf16=bf16,
            fp16=self.cuda and not bf16,
            gradient_checkpointing=self.gradient_checkpointing(),
            optim=self.optimizer(),
            max_length=cfg.max_seq_length,
            assistant_only_loss=cfg.assistant_only_loss and conversational,
            report_to="none",
            disable_tqdm=True,
            dataloader_num_workers=0,
            ddp_find_unused_parameters=False if self.ctx.world_size > 1 else None,
            use_cpu=not self.cuda,
        )

    def setup(self) -> dict[str, Any]:
        import torch
        from trl import SFTTrainer

        from core.train.backends.hf_trainer import EventCallback, make_trainer_class
        from core.train.data import load_split

        quiet_progress_bars()
        torch.manual_seed(self.config.seed)
        train_ds = load_split(self.config.train_file)
        eval_ds = load_split(self.config.val_file) if self.config.val_file else None
        conversational = "messages" in train_ds.column_names
        if conversational and self.config.assistant_only_loss:
            check_assistant_turns(train_ds, self.config.train_file)
        model, tokenizer, peft_config = self.load_model()
        self.tokenizer = tokenizer
        args = self.sft_config(eval_ds is not None, conversational)
        trainer_cls = make_trainer_class(SFTTrainer, self.ctx)
        try:
            self.trainer = trainer_cls(
                model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                processing_class=tokenizer, peft_config=peft_config, callbacks=[EventCallback(self.ctx)],
            )
        except (ValueError, RuntimeError) as exc:
            text = str(exc)
            if "generation" in text or "chat template" in text.lower() or "assistant tokens" in text:
                raise TunewizError(
                    f"assistant-only loss needs a chat template that marks assistant turns: {text.splitlines()[0]}",
                    hint="set chat_template: chatml (or a .jinja file with {% generation %} markers), "
                    "or assistant_only_loss: false",
                ) from None
            raise
        self._check_labels(len(train_ds))
        return self.model_info()

    def _check_labels(self, n_rows: int) -> None:
        """Fail early when no label survives masking (trl silently drops fully masked examples)."""
        ds = self.trainer.train_dataset
        kept = len(ds)
        if kept == 0:
            raise TunewizError(
                f"every label is masked: none of the {n_rows} training examples has a trained token "
                f"(assistant_only_loss={self.config.assistant_only_loss}, max_seq_length={self.config.max_seq_length})",
                hint="check that examples have assistant turns, that the chat template marks them with "
                "{% generation %}, and that max_seq_length leaves room after the prompt",
            )
        if kept < n_rows:
            print(f"tunewiz: {n_rows - kept} of {n_rows} training examples have no trained tokens after "
                  "masking/truncation and are skipped", flush=True)

    def model_info(self) -> dict[str, Any]:
        model = self.trainer.model
        params = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        first = next(model.parameters())
        return {"params": params, "trainable_params": trainable, "dtype": str(first.dtype).replace("torch.", ""),
                "device": str(self.trainer.args.device), "backend": self.name}

    # --- running ------------------------------------------------------------------------------
    def preflight(self) -> float | None:
        """On CUDA: forward+backward on the longest micro-batch before step 1; returns the peak GB."""
        if not self.cuda or self.ctx.world_size > 1:
            return None
        import torch

        self.ctx.where = "preflight"
        self.ctx.faults.check("preflight", 0)
        ds = self.trainer.train_dataset
        lengths = [len(x) for x in ds["input_ids"]]
        longest = sorted(range(len(lengths)), key=lambda i: -lengths[i])[: self.config.batch_size]
        batch = self.trainer.data_collator([ds[i] for i in longest])
        batch = {k: v.to(self.trainer.args.device) for k, v in batch.items() if hasattr(v, "to")}
        model = self.trainer.model
        torch.cuda.reset_peak_memory_stats()
        model.train()
        with torch.autocast("cuda", dtype=self.compute_dtype()):
            loss = model(**batch).loss
        loss.backward()
        model.zero_grad(set_to_none=True)
        peak = torch.cuda.max_memory_allocated() / 1e9
        del loss, batch
        torch.cuda.empty_cache()
        return round(peak, 3)

    def train(self, resume_from: Path | None) -> TrainResult:
        self.ctx.where = "train"
        self.trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
        step = self.trainer.state.global_step
        stopped = bool(self.ctx.stop_reason) or step < (self.trainer.state.max_steps or step)
        return TrainResult(step=step, stopped=stopped, final_loss=self.ctx.last_loss)

    @property
    def global_step(self) -> int:
        return int(self.trainer.state.global_step) if self.trainer is not None else 0

    def save_checkpoint(self) -> Path | None:
        trainer = self.trainer
        if trainer is None or trainer.optimizer is None or trainer.state.global_step == 0:
            return None
        path = self.run.checkpoints / f"checkpoint-{trainer.state.global_step}"
        if (path / "trainer_state.json").exists():
            return path
        trainer.model.zero_grad(set_to_none=True)
        trainer._save_checkpoint(trainer.model, trial=None)
        return path if (path / "trainer_state.json").exists() else None

    def save(self, output_dir: Path) -> Path:
        """Write to a temporary sibling, then rename: a crash mid-save never leaves a half adapter."""
        tmp = output_dir.with_name(output_dir.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        self.trainer.save_model(str(tmp))
        if self.tokenizer is not None and self.ctx.is_main:
            self.tokenizer.save_pretrained(str(tmp))
        if self.ctx.is_main:
            shutil.rmtree(output_dir, ignore_errors=True)
            os.replace(tmp, output_dir)
        return output_dir

    def dataset_lengths(self) -> list[int]:
        try:
            return [len(x) for x in self.trainer.train_dataset["input_ids"]]
        except Exception:
            return []

    def cleanup(self) -> None:
        trainer, self.trainer = self.trainer, None
        if trainer is not None:
            try:
                trainer.accelerator.free_memory()
            except Exception:
                pass
            trainer.model = trainer.model_wrapped = trainer.optimizer = trainer.lr_scheduler = None
        del trainer
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
        except Exception:
            pass
