"""Adapter and merged exports. The merge happens in 16 bits (or the base's own precision), never into a
4-bit base: a QLoRA run's base is reloaded unquantized first, so the merged weights are not rounded
through 4-bit. Each export is verified by reloading it and comparing logits on a probe batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

from core.errors import TunewizError
from core.runs import RunDir

Progress = Callable[[str, int, int], None]


def merge_dtype(base_model: str):
    """The precision to merge and save in: the base's own 16- or 32-bit dtype, else bfloat16."""
    import torch

    config = _base_config(base_model)
    name = str(config.get("dtype") or config.get("torch_dtype") or "bfloat16").replace("torch.", "")
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}.get(name, torch.bfloat16)


def _base_config(base_model: str) -> dict[str, Any]:
    path = Path(base_model) / "config.json"
    if path.exists():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            return {}
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(base_model).to_dict()
    except Exception:
        return {}


def load_unquantized_base(config, dtype):
    """The base model in `dtype` on the CPU; a pre-quantized (bnb 4-bit) checkpoint is dequantized first."""
    from transformers import AutoModelForCausalLM

    quantized = bool(_base_config(config.base_model).get("quantization_config"))
    try:
        model = AutoModelForCausalLM.from_pretrained(config.base_model, dtype=dtype,
                                                     trust_remote_code=config.trust_remote_code,
                                                     **({"device_map": {"": 0}} if quantized else {}))
    except OSError as exc:
        raise TunewizError(f"cannot load base model {config.base_model!r}: {exc}") from None
    if quantized:
        try:
            model = model.dequantize()
        except Exception as exc:
            raise TunewizError(
                f"{config.base_model} is stored in 4-bit and could not be dequantized for merging ({exc})",
                hint="set base_model to the unquantized checkpoint (e.g. drop the -bnb-4bit suffix) and export again",
            ) from None
        model = model.to("cpu", dtype=dtype)
    return model.eval()


def _probe_logits(model, ids):
    import torch

    with torch.no_grad():
        return model(input_ids=ids.to(model.device)).logits.float().cpu()


def merge_tolerance(dtype) -> float:
    import torch

    return {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 3e-2}.get(dtype, 3e-2)


def export_adapter(run: RunDir, out_dir: str | Path, progress: Progress | None = None) -> dict[str, Any]:
    """Copy the run's PEFT adapter (and tokenizer) to `out_dir` and verify it loads with
    PeftModel.from_pretrained and changes the base model's logits."""
    import torch
    from peft import PeftModel

    from core.evaluate.loading import adapter_dir, run_config
    from core.export.gguf_file import compare_logits, probe_ids
    from core.evaluate.loading import load_tokenizer

    config = run_config(run)
    src, out = adapter_dir(run), Path(out_dir)
    if out.exists() and out.resolve() != src.resolve():
        shutil.rmtree(out)
    if out.resolve() != src.resolve():
        shutil.copytree(src, out)
    if progress:
        progress("copy", 1, 2)
    base = load_unquantized_base(config, torch.float32)
    ids = probe_ids(load_tokenizer(run, config))
    base_logits = _probe_logits(base, ids)
    model = PeftModel.from_pretrained(base, str(out)).eval()
    tuned_logits = _probe_logits(model, ids)
    if progress:
        progress("verify", 2, 2)
    diff = compare_logits(tuned_logits, base_logits)
    return {"format": "adapter", "path": str(out), "verify": {
        "loads_with": "PeftModel.from_pretrained", "changes_base_logits": diff["max_abs_diff"] > 0,
        "max_abs_diff_from_base": diff["max_abs_diff"], "ok": diff["max_abs_diff"] > 0}}


def export_merged(run: RunDir, out_dir: str | Path, progress: Progress | None = None, dtype=None) -> dict[str, Any]:
    """Merge the adapter into the unquantized base and save safetensors + tokenizer (with its chat
    template) to `out_dir`; verify by reloading and comparing logits with the adapter model."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from core.evaluate.loading import adapter_dir, load_tokenizer, run_config
    from core.export.gguf_file import compare_logits, probe_ids

    report = progress or (lambda stage, done, total: None)
    config = run_config(run)
    dtype = dtype or merge_dtype(config.base_model)
    out = Path(out_dir)
    report("load", 0, 4)
    base = load_unquantized_base(config, dtype)
    model = PeftModel.from_pretrained(base, str(adapter_dir(run))).eval()
    tokenizer = load_tokenizer(run, config)
    ids = probe_ids(tokenizer)
    adapter_logits = _probe_logits(model, ids)
    report("merge", 1, 4)
    merged = model.merge_and_unload()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    report("save", 2, 4)
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    report("verify", 3, 4)
    reloaded = AutoModelForCausalLM.from_pretrained(str(out), dtype=dtype).eval()
    diff = compare_logits(_probe_logits(reloaded, ids), adapter_logits)
    tolerance = merge_tolerance(dtype)
    report("verify", 4, 4)
    return {"format": "merged", "path": str(out), "dtype": str(dtype).replace("torch.", ""),
            "verify": {**diff, "tolerance": tolerance, "ok": diff["rel_error"] <= tolerance,
                       "reference": "base + adapter (PeftModel)"}}
