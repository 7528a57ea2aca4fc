"""OOM recovery options: what they change, how they rank with and without the VRAM estimator."""

import sys
import types

from core.config import TrainConfig
from core.train.oom import best_auto_option, is_oom, ranked_options


def test_halve_batch_keeps_effective_batch_and_ranks_first_without_estimator(monkeypatch):
    monkeypatch.setitem(sys.modules, "core.vram", None)  # estimator missing
    cfg = TrainConfig(method="lora", bits=16, batch_size=8, grad_accum=2, grad_checkpointing="none", optimizer="adamw_torch")
    opts = ranked_options(cfg, lengths=[100] * 95 + [1000] * 5, peak_gb=20.0)
    best = best_auto_option(opts)
    assert best["id"] == "halve_batch"
    assert best["changes"]["batch_size"] * best["changes"]["grad_accum"] == 16
    assert best["predicted_gb"] == 15.0  # heuristic 0.75 x measured peak
    ids = [o["id"] for o in opts]
    assert {"grad_checkpoint", "optimizer_8bit", "shorten_seq", "lora_to_qlora", "lower_rank", "fewer_targets"} <= set(ids)
    assert ids[-1] == "smaller_model" and opts[-1]["changes"] == {}
    seq = next(o for o in opts if o["id"] == "shorten_seq")
    assert seq["changes"]["max_seq_length"] < 2048 and "truncates 5 of 100" in seq["label"]


def test_ranked_by_estimator_when_present(monkeypatch):
    fake = types.ModuleType("core.vram")

    def estimate_for_config(config, *, gpu_total_gb=None):
        total = 4.0 * config.batch_size + (0 if config.method == "qlora" else 30) + config.lora_r * 0.01
        return types.SimpleNamespace(total_gb=total, breakdown={})

    fake.estimate_for_config = estimate_for_config
    monkeypatch.setitem(sys.modules, "core.vram", fake)
    cfg = TrainConfig(method="lora", bits=16, batch_size=4, grad_accum=4)
    opts = ranked_options(cfg, peak_gb=None)
    assert opts[0]["id"] == "lora_to_qlora" and opts[0]["source"] == "estimator"
    predicted = [o["predicted_gb"] for o in opts if o["changes"]]
    assert predicted == sorted(predicted)


def test_cpu_skips_cuda_only_options():
    cfg = TrainConfig(method="lora", bits=16, batch_size=1, optimizer="adamw_torch")
    ids = [o["id"] for o in ranked_options(cfg, cuda=False)]
    assert "optimizer_8bit" not in ids and "lora_to_qlora" not in ids and "halve_batch" not in ids


def test_is_oom():
    import torch

    assert is_oom(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_oom(RuntimeError("CUDA error: out of memory"))
    assert not is_oom(ValueError("out of memory"))
