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
