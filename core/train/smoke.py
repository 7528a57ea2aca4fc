"""`tunewiz doctor --smoke`: build a tiny random model, train it a few steps on whatever device this
box has through the same engine as real runs, and report. The quickest proof a GPU box is ready."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def smoke_config(model_dir: Path, train_file: Path, val_file: Path, steps: int = 8):
    from core.config import TrainConfig

    return TrainConfig(
        base_model=str(model_dir), method="lora", bits=16, backend="auto", train_file=str(train_file),
        val_file=str(val_file), learning_rate=2e-3, epochs=1, max_steps=steps, batch_size=4, grad_accum=1,
        max_seq_length=64, lora_r=8, lora_alpha=8, optimizer="adamw_torch", grad_checkpointing="none",
        warmup_steps=1, logging_steps=1, eval_steps=steps, save_steps=steps, save_total_limit=1, on_oom="stop",
    )


def run_smoke(work_dir: str | Path, *, steps: int = 8) -> dict[str, Any]:
    """Train the tiny model `steps` steps in this process under `work_dir`. Returns
    {ok, device, backend, steps, seconds, final_loss, first_loss, run_dir, error}."""
    from core.toy import build_tiny_model, make_chat_examples, write_jsonl
    from core.train.launch import start_run

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    result: dict[str, Any] = {"ok": False, "device": None, "backend": None, "steps": 0, "seconds": None,
                              "final_loss": None, "first_loss": None, "run_dir": None, "error": None}
    try:
        model_dir = build_tiny_model(work / "tiny-model")
        train = write_jsonl(work / "train.jsonl", make_chat_examples(32, seed=0))
        val = write_jsonl(work / "val.jsonl", make_chat_examples(8, seed=1))
        run = start_run(smoke_config(model_dir, train, val, steps), runs_dir=work / "runs", detach=False)
    except Exception as exc:  # the smoke test reports, it never raises
        result.update(error=f"{type(exc).__name__}: {exc}", seconds=round(time.time() - started, 2))
        return result
    view = run.view()
    result.update(
        run_dir=str(run.path), device=view.model.get("device"), backend=view.backend, steps=view.step,
        final_loss=view.loss, first_loss=view.losses[0][1] if view.losses else None,
        seconds=round(time.time() - started, 2), error=view.error,
    )
    result["ok"] = view.status == "finished" and view.step == steps and view.loss is not None
    return result
