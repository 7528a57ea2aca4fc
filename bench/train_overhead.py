"""Training overhead of tunewiz: the same tiny model and data trained through a tunewiz run (engine,
events, control polling, health checks) and through a bare TRL SFTTrainer script, alternating.
Prints steps/s of each (median over repeats, measured between the first and last optimizer step, so
model loading is excluded) and the overhead. Goal: under 3%.

    python bench/train_overhead.py [--steps 150] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def tunewiz_steps_per_s(config, runs_dir: Path) -> float:
    from core.events import read_events
    from core.train.launch import start_run

    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the engine's train-log prints, not bench output
        run = start_run(config, runs_dir=runs_dir, detach=False)
    times = [e["time"] for e in read_events(run.events) if e["type"] == "step"]
    return (len(times) - 1) / (times[-1] - times[0])


def bare_trl_steps_per_s(config, out_dir: Path) -> float:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainerCallback
    from trl import SFTConfig, SFTTrainer
    from trl.trainer import utils as trl_utils

    from core.train.data import read_jsonl_rows

    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                stamps.append(time.time())

    class Plain(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if getattr(trl_utils, "_ChunkedLogProbFunction", 1) is None:  # no Triton (CPU torch)
                return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    tok = AutoTokenizer.from_pretrained(config.base_model)
    model = AutoModelForCausalLM.from_pretrained(config.base_model)
    args = SFTConfig(
        output_dir=str(out_dir), per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, max_steps=config.max_steps, warmup_steps=config.warmup_steps, logging_steps=1,
        save_strategy="no", eval_strategy="no", seed=config.seed, bf16=False, fp16=False, gradient_checkpointing=False,
        optim="adamw_torch", max_length=config.max_seq_length, assistant_only_loss=True, report_to="none",
        disable_tqdm=True, use_cpu=True,
    )
    trainer = Plain(model=model, args=args, train_dataset=Dataset.from_list(read_jsonl_rows(config.train_file)),
                    processing_class=tok, callbacks=[Stamp()],
                    peft_config=LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, target_modules="all-linear", task_type="CAUSAL_LM"))
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.train()
    return (len(stamps) - 1) / (stamps[-1] - stamps[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import datasets
    import transformers

    from core.config import TrainConfig
    from core.toy import build_tiny_model, make_chat_examples, write_jsonl

    datasets.disable_progress_bars()
    transformers.utils.logging.set_verbosity_error()
    work = Path(tempfile.mkdtemp(prefix="tunewiz-bench-"))
    model = build_tiny_model(work / "model")
    train = write_jsonl(work / "train.jsonl", make_chat_examples(64, seed=0))
    config = TrainConfig(base_model=str(model), method="lora", bits=16, backend="hf", train_file=str(train), val_file=None,
                         learning_rate=2e-3, epochs=100, max_steps=args.steps, batch_size=4, grad_accum=1, max_seq_length=64,
                         warmup_steps=1, save_steps=10**6, eval_steps=10**6, optimizer="adamw_torch", grad_checkpointing="none")
    ours, bare = [], []
    for i in range(args.repeat):
        bare.append(bare_trl_steps_per_s(config, work / f"bare{i}"))
        ours.append(tunewiz_steps_per_s(config, work / "runs"))
        print(f"repeat {i + 1}: bare TRL {bare[-1]:.2f} steps/s, tunewiz {ours[-1]:.2f} steps/s", file=sys.stderr)
    b, t = statistics.median(bare), statistics.median(ours)
    print(f"bare TRL   {b:8.2f} steps/s")
    print(f"tunewiz    {t:8.2f} steps/s")
    print(f"overhead   {100 * (b - t) / b:+8.2f} %  (goal: under 3%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
