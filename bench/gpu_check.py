"""GPU check for a CUDA machine: builds randomly initialized models from catalog configs
(shared/reference/model_configs.json; no downloads), trains each available backend a few steps through
the tunewiz engine, prints tokens/s and the measured peak beside the estimate, then forces a real OOM
with `torch.cuda.set_per_process_memory_fraction` and checks the run recovers (on_oom=auto).
Without CUDA it says so and exits 0.

    python bench/gpu_check.py [--models Qwen2.5-0.5B,Llama-3.2-1B] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CATALOG = [ROOT / "shared" / "reference" / "model_configs.json", ROOT.parent / "shared" / "reference" / "model_configs.json"]


def catalog_entry(name: str) -> dict:
    for path in CATALOG:
        if path.exists():
            for entry in json.loads(path.read_text()):
                if entry["model"].split("/")[-1].lower() == name.lower() or entry["model"].lower() == name.lower():
                    return entry
    raise SystemExit(f"{name}: not in the model catalog")


def build_random_model(entry: dict, path: Path) -> Path:
    """A random-init model with the catalog architecture and the toy tokenizer (ids < vocab)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from core.toy import build_tokenizer

    model_type = "qwen2" if "qwen" in entry["model"].lower() else "llama"
    tok = build_tokenizer()
    cfg = AutoConfig.for_model(
        model_type, hidden_size=entry["hidden_size"], num_hidden_layers=entry["num_hidden_layers"],
        num_attention_heads=entry["num_attention_heads"], num_key_value_heads=entry["num_key_value_heads"],
        intermediate_size=entry["intermediate_size"], vocab_size=entry["vocab_size"],
        tie_word_embeddings=entry.get("tie_word_embeddings", False), max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    del model
    torch.cuda.empty_cache()
    return path


def run_one(model_dir: Path, data: Path, work: Path, backend: str, steps: int, **overrides) -> dict:
    from core.config import TrainConfig
    from core.train.launch import start_run

    cfg = TrainConfig(**{**dict(base_model=str(model_dir), method="qlora", bits=4, backend=backend, train_file=str(data),
                                val_file=None, max_steps=steps, batch_size=4, grad_accum=1, max_seq_length=512,
                                warmup_steps=1, save_steps=5, on_oom="auto", grad_checkpointing="hf"), **overrides})
    run = start_run(cfg, runs_dir=work / "runs", detach=False)
    view = run.view()
    loaded = view.model
    return {"status": view.status, "steps": view.step, "tokens_per_s": view.tokens_per_s,
            "peak_gb": view.gpu.get("peak_allocated_gb"), "estimate_gb": loaded.get("estimate_gb"),
            "preflight_gb": loaded.get("preflight_peak_gb"), "ooms": len(view.ooms),
            "recoveries": [r["option"] for r in view.recoveries], "error": view.error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="Qwen2.5-0.5B,Llama-3.2-1B")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device on this machine; nothing to check (run it on the GPU box)")
        return 0
    from core.toy import make_chat_examples, write_jsonl
    from core.train.backends import available_backends

    card = torch.cuda.get_device_name(0)
    work = Path(tempfile.mkdtemp(prefix="tunewiz-gpucheck-"))
    data = write_jsonl(work / "train.jsonl", make_chat_examples(256, seed=0))
    rows = []
    for name in args.models.split(","):
        entry = catalog_entry(name.strip())
        model_dir = build_random_model(entry, work / name.strip())
        for backend in available_backends():
            for method in ("qlora", "lora"):
                res = run_one(model_dir, data, work / f"{name}-{backend}-{method}", backend, args.steps,
                              method=method, bits=4 if method == "qlora" else 16)
                rows.append({"card": card, "model": name, "backend": backend, "method": method, **res})
                print(json.dumps(rows[-1]), flush=True)
    # A real OOM: cap this process's CUDA memory just above the weights, with a batch that cannot fit.
    entry_name = args.models.split(",")[-1].strip()
    total = torch.cuda.get_device_properties(0).total_memory / 1e9
    torch.cuda.set_per_process_memory_fraction(min(1.0, 6.0 / total))
    res = run_one(work / entry_name, data, work / "oom", "hf", args.steps, method="lora", bits=16, batch_size=64,
                  grad_accum=1, max_seq_length=512, grad_checkpointing="none", oom_retries=6)
    torch.cuda.set_per_process_memory_fraction(1.0)
    rows.append({"card": card, "model": entry_name, "backend": "hf", "method": "lora (forced OOM, 6 GB cap)", **res})
    print(json.dumps(rows[-1]), flush=True)
    print(f"\n| card | model | backend | method | status | tokens/s | peak GB | estimate GB | OOMs -> recoveries |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['card']} | {r['model']} | {r['backend']} | {r['method']} | {r['status']} | "
              f"{(r['tokens_per_s'] or 0):,.0f} | {r['peak_gb']} | {r['estimate_gb']} | {r['ooms']} -> {r['recoveries']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
