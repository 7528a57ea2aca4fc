"""The model catalog: built-in facts, id mapping, and config.json from a folder or the HF cache."""

import json
from pathlib import Path

import pytest

from core.catalog import CATALOG, PICKER_MODELS, catalog_lookup, resolve_arch
from core.errors import TunewizError

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference data not at {REFERENCE}")


@needs_reference
def test_reference_models_match_model_configs_json():
    ref = json.load(open(REFERENCE / "model_configs.json"))
    for entry in ref:
        arch = catalog_lookup(entry["model"])
        assert arch is not None, entry["model"]
        assert (arch.hidden, arch.layers, arch.heads, arch.kv_heads, arch.intermediate, arch.vocab, arch.tied) == (
            entry["hidden_size"], entry["num_hidden_layers"], entry["num_attention_heads"],
            entry["num_key_value_heads"], entry["intermediate_size"], entry["vocab_size"], entry["tie_word_embeddings"])
        assert arch.params_b == pytest.approx(entry["params_b_computed"], rel=0.002)


@pytest.mark.parametrize("model_id, expected", [
    ("unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "meta-llama/Llama-3.1-8B"),
    ("unsloth/llama-3-8b-bnb-4bit", "meta-llama/Llama-3.1-8B"),
    ("meta-llama/Llama-3.3-70B-Instruct", "meta-llama/Llama-3.1-70B"),
    ("Qwen/Qwen2.5-Coder-7B-Instruct", "Qwen/Qwen2.5-7B"),
    ("unsloth/Qwen2.5-14B-Instruct-bnb-4bit", "Qwen/Qwen2.5-14B"),
    ("unsloth/mistral-7b-v0.3-bnb-4bit", "mistralai/Mistral-7B-v0.3"),
    ("unsloth/gemma-2-9b-it-bnb-4bit", "google/gemma-2-9b"),
    ("deepseek-ai/deepseek-coder-33b-instruct", "deepseek-ai/deepseek-coder-33b-base"),
    ("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-135M"),
])
def test_variants_map_to_architectures(model_id, expected):
    assert catalog_lookup(model_id).id == expected


@needs_reference
def test_every_published_row_model_is_in_the_catalog():
    import csv

    rows = csv.DictReader(open(REFERENCE / "vram_published.csv"))
    missing = {r["model"] for r in rows if not r["model"].startswith("generic") and catalog_lookup(r["model"]) is None}
    assert not missing


def test_issue_models_and_picker_resolve():
    for name in ["Llama-3.2-1B", "Qwen2.5-0.5B", "Qwen2.5-72B", "Phi-3.5-mini-instruct", "SmolLM2-360M", "gemma-2-27b"]:
        assert catalog_lookup(name) is not None, name
    assert all(catalog_lookup(m) is not None for m in PICKER_MODELS)
    assert len({a.id for a in CATALOG}) == len(CATALOG)


def test_local_folder_config_json(tiny_model_dir):
    cfg = json.loads((tiny_model_dir / "config.json").read_text())
    arch = resolve_arch(str(tiny_model_dir))
    assert arch.hidden == cfg["hidden_size"]
    assert arch.layers == cfg["num_hidden_layers"]
    assert arch.heads == cfg["num_attention_heads"]
    assert arch.kv_heads == cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    assert arch.vocab == cfg["vocab_size"]
    assert arch.intermediate == cfg["intermediate_size"]
    assert arch.tied == bool(cfg.get("tie_word_embeddings", False))


def test_hf_cache_config_json(tmp_path, monkeypatch):
    snap = tmp_path / "hub" / "models--acme--Widget-1B" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": 2048, "num_hidden_layers": 16, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 8192, "vocab_size": 128256, "tie_word_embeddings": True}))
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    arch = resolve_arch("acme/Widget-1B")
    assert (arch.hidden, arch.layers, arch.kv_heads, arch.head_dim, arch.vocab, arch.tied) == (2048, 16, 8, 64, 128256, True)
    assert "config.json" in arch.source


def test_unknown_model_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(TunewizError, match="not in the catalog"):
        resolve_arch("acme/does-not-exist")
    empty = tmp_path / "folder"
    empty.mkdir()
    with pytest.raises(TunewizError, match="no config.json"):
        resolve_arch(str(empty))
