"""Shared fixtures. Tests never touch the network or the developer's real home: HF caches, tunewiz's
data folder and HOME point into a temporary folder for the whole session (subprocesses inherit it)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

_SANDBOX = Path(tempfile.mkdtemp(prefix="tunewiz-tests-"))
for key, value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HOME": str(_SANDBOX / "hf"),
    "TUNEWIZ_HOME": str(_SANDBOX / "tunewiz-home"),
    "HOME": str(_SANDBOX / "home"),
    "TOKENIZERS_PARALLELISM": "false",
    "TZ": "UTC",
    "NO_COLOR": "",
}.items():
    if value:
        os.environ[key] = value
    else:
        os.environ.pop(key, None)
os.environ.pop("TUNEWIZ_RUNS_DIR", None)
(_SANDBOX / "home").mkdir(parents=True, exist_ok=True)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny LlamaForCausalLM + trained BPE tokenizer + `{% generation %}` chat template, built once."""
    from core.toy import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama")


@pytest.fixture
def chat_examples() -> list[dict]:
    from core.toy import make_chat_examples

    return make_chat_examples(64, seed=0)


@pytest.fixture
def chat_jsonl(tmp_path, chat_examples) -> Path:
    """64 conversations in the OpenAI `messages` format, one per line."""
    from core.toy import write_jsonl

    return write_jsonl(tmp_path / "chat.jsonl", chat_examples)


@pytest.fixture
def project_dir(tmp_path, monkeypatch) -> Path:
    """An empty project folder, made the working directory."""
    path = tmp_path / "project"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


def run_cli(*args: str, cwd: str | Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run `python -m tunewiz ARGS` in a fresh interpreter; returns the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tunewiz", *args],
        cwd=str(cwd) if cwd else None,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def make_finished_run(runs_dir: str | Path, base_model_dir: str | Path, *, run_id: str = "20250101-000000-run-test",
                      train_steps: int = 80, n_train: int = 48, n_val: int = 12, lora_r: int = 8, seed: int = 0,
                      lr: float = 1e-2) -> Path:
    """Write a finished run folder like the trainer leaves one (config.yaml, adapter/, events.jsonl,
    state.json), training a LoRA on the tiny model for `train_steps` plain torch steps so the adapter
    is non-trivial (the tuned model beats the base on the held-out split)."""
    import torch
    import yaml
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.config import TrainConfig
    from core.events import EventWriter
    from core.runs import RunDir
    from core.toy import make_chat_examples, write_jsonl

    run = RunDir(Path(runs_dir) / run_id)
    run.path.mkdir(parents=True, exist_ok=True)
    examples = make_chat_examples(n_train + n_val, seed=seed)
    train_file = write_jsonl(run.path.parent / "data" / "train.jsonl", examples[:n_train]).resolve()
    val_file = write_jsonl(run.path.parent / "data" / "val.jsonl", examples[n_train:]).resolve()
    config = TrainConfig(
        base_model=str(Path(base_model_dir).resolve()), method="lora", bits=16, backend="hf",
        train_file=str(train_file), val_file=str(val_file), lora_r=lora_r, lora_alpha=lora_r * 2,
        max_seq_length=128, batch_size=8, grad_accum=1, max_steps=train_steps, learning_rate=lr,
        optimizer="adamw_torch", grad_checkpointing="none", seed=seed,
    )
    run.config_file.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    events = EventWriter(run.events)
    events.emit("run_started", run_id=run.run_id, config=config.model_dump(mode="json"), backend="hf", pid=os.getpid(),
                resumed_from=None)

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_model_dir)
    model = AutoModelForCausalLM.from_pretrained(base_model_dir, dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=lora_r, lora_alpha=lora_r * 2, target_modules=targets, task_type="CAUSAL_LM"))
    texts = [tokenizer.apply_chat_template(e["messages"], tokenize=False) for e in examples[:n_train]]
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    model.train()
    loss = None
    for step in range(train_steps):
        batch_texts = [texts[(step * 8 + i) % len(texts)] for i in range(8)]
        batch = tokenizer(batch_texts, return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
        events.emit("step", step=step + 1, total_steps=train_steps, epoch=0.0, loss=float(loss.detach()), learning_rate=1e-2)
    model.eval()
    model.save_pretrained(run.adapter)
    tokenizer.save_pretrained(run.adapter)
    events.emit("finished", step=train_steps, output=str(run.adapter), final_loss=float(loss.detach()) if loss is not None else None)
    run.write_state(status="finished", pid=None, step=train_steps)
    return run.path


@pytest.fixture(scope="session")
def finished_run_template(tmp_path_factory, tiny_model_dir) -> Path:
    """One trained run, built once per session; copy it with `finished_run_dir` before writing into it."""
    return make_finished_run(tmp_path_factory.mktemp("runs-template") / "runs", tiny_model_dir)


@pytest.fixture
def finished_run_dir(tmp_path, finished_run_template) -> Path:
    """A fresh copy of a finished LoRA run of the tiny model (config.yaml, adapter/, events.jsonl,
    state.json) in `tmp_path/runs/`, safe to evaluate or export into."""
    import shutil

    dest = tmp_path / "runs" / finished_run_template.name
    shutil.copytree(finished_run_template.parent, tmp_path / "runs", dirs_exist_ok=True)
    return dest
@pytest.fixture
def train_config(tmp_path, tiny_model_dir):
    """A factory for tiny CPU training configs: 48 train / 16 val chat examples, seq 64, LoRA."""
    from core.config import TrainConfig
    from core.toy import make_chat_examples, write_jsonl

    train = write_jsonl(tmp_path / "data" / "train.jsonl", make_chat_examples(48, seed=0))
    val = write_jsonl(tmp_path / "data" / "val.jsonl", make_chat_examples(16, seed=1))

    def make(**overrides) -> TrainConfig:
        base = dict(
            base_model=str(tiny_model_dir), method="lora", bits=16, backend="hf", train_file=str(train),
            val_file=str(val), learning_rate=2e-3, epochs=1, max_steps=12, batch_size=4, grad_accum=1,
            max_seq_length=64, warmup_steps=1, eval_steps=4, save_steps=4, save_total_limit=5,
            optimizer="adamw_torch", grad_checkpointing="none", on_oom="auto",
        )
        base.update(overrides)
        return TrainConfig(**base)

    return make
