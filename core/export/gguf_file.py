"""Write a GGUF file in Python with the `gguf` package for llama-family models (Llama, Mistral,
SmolLM, Qwen2): llama.cpp tensor names, the q/k row permutation llama.cpp's rotary embedding expects
for the llama architecture, hyperparameters, the BPE tokenizer (tokens, merges, token types, special
ids) and the chat template. Types written here: f32, f16, bf16, q8_0, q4_0; the k-quants go through
llama.cpp's `llama-quantize` (see `core.export.llamacpp`). `verify_gguf` loads the file back with
transformers and compares logits with the source model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

from core.errors import TunewizError

# HF architecture -> (llama.cpp architecture, permute q/k rows). llama.cpp converts Mistral and SmolLM
# checkpoints as "llama"; Qwen2 uses NeoX-style rotary embeddings, so its q/k stay as they are.
ARCHITECTURES: dict[str, tuple[str, bool]] = {
    "LlamaForCausalLM": ("llama", True),
    "MistralForCausalLM": ("llama", True),
    "Qwen2ForCausalLM": ("qwen2", False),
}
PYTHON_TYPES = ("f16", "q8_0", "q4_0", "bf16", "f32")
BLOCK = 32  # q8_0 / q4_0 block size along a row

Progress = Callable[[str, int, int], None]


def permute_qk(weights, n_head: int, n_head_kv: int | None = None):
    """Reorder q/k projection rows from Hugging Face's rotate-half layout to the interleaved pairs
    llama.cpp's rotary embedding uses (the inverse of what transformers undoes when reading GGUF)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def supported_architecture(model_dir: str | Path) -> tuple[str, str, bool]:
    """(HF architecture, GGUF architecture, permute) or a TunewizError naming what is supported."""
    config = _read_config(model_dir)
    arch = (config.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES:
        names = ", ".join(sorted(ARCHITECTURES))
        raise TunewizError(
            f"GGUF export supports llama-family models ({names}); this model is {arch}",
            hint="export --format merged and convert it with llama.cpp's convert_hf_to_gguf.py",
        )
    return arch, *ARCHITECTURES[arch]


def _read_config(model_dir: str | Path) -> dict[str, Any]:
    try:
        return json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise TunewizError(f"{model_dir}: no readable config.json (expected a merged Hugging Face model folder)") from None


def _rope(config: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """(rope theta, scaling dict) from either the transformers 4 or the transformers 5 config layout."""
    params = config.get("rope_parameters") or {}
    scaling = dict(config.get("rope_scaling") or {})
    if params.get("rope_type", "default") not in ("default", None):
        scaling = {**params, **scaling}
    theta = params.get("rope_theta", config.get("rope_theta", 10000.0))
    return float(theta), scaling


def _llama3_rope_factors(theta: float, head_dim: int, scaling: dict[str, Any]):
    """Per-frequency factors for Llama 3.1-style rope scaling (llama.cpp's `rope_freqs` tensor)."""
    import numpy as np

    factor = scaling.get("factor", 8.0)
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    old_len = scaling.get("original_max_position_embeddings", 8192)
    low_wavelen, high_wavelen = old_len / low, old_len / high
    factors = []
    for i in range(0, head_dim, 2):
        freq = 1.0 / (theta ** (i / head_dim))
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1.0)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old_len / wavelen - low) / (high - low)
            factors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def _tokenizer_metadata(model_dir: Path, vocab_size: int, model_type: str) -> dict[str, Any]:
    """Tokens, token types, merges and special ids in llama.cpp's layout, from the fast tokenizer."""
    from gguf import TokenType
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise TunewizError(f"GGUF export supports BPE tokenizers; this one is {model.get('type')}",
                           hint="export --format merged and convert with llama.cpp's convert_hf_to_gguf.py")
    byte_level = "ByteLevel" in json.dumps(data.get("pre_tokenizer")) or "ByteLevel" in json.dumps(data.get("decoder"))
    kind = "gpt2" if byte_level else "llama"
    vocab = tokenizer.get_vocab()
    by_id = {i: t for t, i in vocab.items()}
    added = {t.content: t for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:
            tokens.append(f"[PAD{i}]")
            types.append(TokenType.UNUSED)
        elif token in added:
            tokens.append(token)
            types.append(TokenType.CONTROL if added[token].special else TokenType.USER_DEFINED)
        elif kind == "llama" and token.startswith("<0x") and token.endswith(">") and len(token) == 6:
            tokens.append(token)
            types.append(TokenType.BYTE)
        else:
            tokens.append(token)
            types.append(TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    probe = tokenizer("a", add_special_tokens=True)["input_ids"]
    pre = {"qwen2": "qwen2"}.get(model_type, "default")
    if model_type == "llama" and kind == "gpt2" and len(vocab) > 128000:
        pre = "llama-bpe"
    elif model_type == "llama" and kind == "gpt2" and len(vocab) == 49152:
        pre = "smollm"
    return {
        "tokenizer": tokenizer, "kind": kind, "pre": pre, "tokens": tokens, "types": types, "merges": merges,
        "scores": [-float(i) for i in range(vocab_size)] if kind == "llama" else None,
        "add_bos": bool(tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id]),
    }


def _tensor_type(name: str, array, quant: str):
    """The GGML type for one tensor: 1-D tensors stay f32; rows not a multiple of 32 fall back to f16;
    for q4_0 the embedding and output matrices keep q8_0 (they hurt most when squeezed)."""
    from gguf import GGMLQuantizationType as Q

    if array.ndim < 2 or quant == "f32":
        return Q.F32
    if quant == "f16":
        return Q.F16
    if quant == "bf16":
        return Q.BF16
    if array.shape[-1] % BLOCK:
        return Q.F16
    if quant == "q4_0" and name in ("token_embd.weight", "output.weight"):
        return Q.Q8_0
    return {"q8_0": Q.Q8_0, "q4_0": Q.Q4_0}[quant]


def _iter_safetensors(model_dir: Path):
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise TunewizError(f"{model_dir}: no .safetensors weights (export --format merged writes them)")
    for file in files:
        with safe_open(str(file), framework="pt") as fh:
            for key in fh.keys():
                yield key, fh.get_tensor(key)


def write_gguf(model_dir: str | Path, out_file: str | Path, quant: str = "f16", *, name: str | None = None,
               permute: bool = True, progress: Progress | None = None) -> Path:
    """Convert the Hugging Face model folder `model_dir` (safetensors + tokenizer) to `out_file`.
    `permute=False` skips the q/k permutation; it exists only so a test can prove the permutation matters."""
    import gguf
    import numpy as np

    if quant not in PYTHON_TYPES:
        raise TunewizError(f"type {quant!r} is not written in Python; choose one of {', '.join(PYTHON_TYPES)}")
    model_dir, out_file = Path(model_dir), Path(out_file)
    hf_arch, arch, needs_permute = supported_architecture(model_dir)
    config = _read_config(model_dir)
    n_layers = config["num_hidden_layers"]
    n_head = config["num_attention_heads"]
    n_kv = config.get("num_key_value_heads") or n_head
    hidden = config["hidden_size"]
    head_dim = config.get("head_dim") or hidden // n_head
    vocab_size = config["vocab_size"]
    theta, scaling = _rope(config)
    tok = _tokenizer_metadata(model_dir, vocab_size, config.get("model_type", ""))
    model_name = name or config.get("_name_or_path") or model_dir.name
    if hf_arch == "MistralForCausalLM" and "mistral" not in model_name.lower():
        model_name = f"mistral {model_name}"  # readers (transformers) tell Mistral from Llama by the name

    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    name_map = gguf.get_tensor_name_map(arch_enum, n_layers)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out_file), arch)
    writer.add_name(str(Path(model_name).name))
    writer.add_file_type({
        "f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0, "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    }[quant])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(int(config.get("max_position_embeddings", 4096)))
    writer.add_embedding_length(hidden)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(theta)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_vocab_size(vocab_size)
    rope_type = (scaling.get("rope_type") or scaling.get("type") or "").lower()
    if rope_type == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif rope_type == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
        writer.add_rope_scaling_orig_ctx_len(int(scaling.get("original_max_position_embeddings", 4096)))

    writer.add_tokenizer_model(tok["kind"])
    writer.add_tokenizer_pre(tok["pre"])
    writer.add_token_list(tok["tokens"])
    writer.add_token_types(tok["types"])
    if tok["scores"] is not None:
        writer.add_token_scores(tok["scores"])
    if tok["merges"]:
        writer.add_token_merges(tok["merges"])
    tokenizer = tok["tokenizer"]
    for token_id, add in ((tokenizer.bos_token_id, writer.add_bos_token_id), (tokenizer.eos_token_id, writer.add_eos_token_id),
                          (tokenizer.unk_token_id, writer.add_unk_token_id), (tokenizer.pad_token_id, writer.add_pad_token_id)):
        if token_id is not None:
            add(int(token_id))
    writer.add_add_bos_token(tok["add_bos"])
    writer.add_add_eos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template if isinstance(tokenizer.chat_template, str)
                                 else tokenizer.chat_template.get("default", ""))
        try:
            from core.export.chat_format import turn_format_for

            turn_end = turn_format_for(tokenizer, str(model_dir)).stop_tokens[0]
            writer.add_eot_token_id(int(tokenizer.convert_tokens_to_ids(turn_end)))
        except Exception:  # no derivable template: llama.cpp falls back to EOS
            pass

    tensors = list(_iter_safetensors(model_dir))
    tied = config.get("tie_word_embeddings", False)
    if rope_type == "llama3" and arch == "llama":
        factors = _llama3_rope_factors(theta, head_dim, scaling)
        writer.add_tensor("rope_freqs.weight", factors)
    total = len(tensors)
    for done, (hf_name, tensor) in enumerate(tensors, 1):
        if hf_name.endswith(("rotary_emb.inv_freq", ".masked_bias", ".attn.bias")):
            continue
        if tied and hf_name == "lm_head.weight":
            continue
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise TunewizError(f"cannot map tensor {hf_name!r} to a GGUF name for {arch}")
        data = tensor.float().numpy()
        if permute and needs_permute and hf_name.endswith("q_proj.weight"):
            data = permute_qk(data, n_head, n_head)
        elif permute and needs_permute and hf_name.endswith("k_proj.weight"):
            data = permute_qk(data, n_head, n_kv)
        qtype = _tensor_type(gguf_name, data, quant)
        if qtype == gguf.GGMLQuantizationType.F32:
            writer.add_tensor(gguf_name, data.astype(np.float32))
        elif qtype == gguf.GGMLQuantizationType.F16:
            writer.add_tensor(gguf_name, data.astype(np.float16))
        else:
            writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        if progress:
            progress("convert", done, total)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file(progress=False)
    writer.close()
    return out_file


def probe_ids(tokenizer, texts: list[str] | None = None):
    """A small batch of token ids to compare models on (the chat template applied to short prompts)."""
    import torch

    texts = texts or ["What color is the sky?", "Tell me the color of the apple."]
    rows = []
    for text in texts:
        try:
            ids = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=True,
                                                add_generation_prompt=True, return_dict=True)["input_ids"]
        except Exception:
            ids = tokenizer(text)["input_ids"]
        rows.append(list(ids))
    width = min(len(r) for r in rows)
    return torch.tensor([r[:width] for r in rows], dtype=torch.long)


# Relative logit error (||a-b|| / ||b||) each type should stay under against the source model. The 4-bit
# bounds are loose because tiny test models (64-wide rows) quantize far worse than real ones.
TOLERANCE = {"f32": 1e-4, "f16": 5e-3, "bf16": 3e-2, "q8_0": 5e-2, "q4_0": 0.5, "q5_k_m": 0.3, "q4_k_m": 0.5}


def compare_logits(a, b) -> dict[str, float]:
    """Relative L2 error, max absolute difference and top-1 agreement of two logit tensors."""
    a, b = a.float(), b.float()
    return {
        "rel_error": float((a - b).norm() / b.norm().clamp_min(1e-12)),
        "max_abs_diff": float((a - b).abs().max()),
        "top1_agree": float((a.argmax(-1) == b.argmax(-1)).float().mean()),
    }


def verify_gguf(gguf_file: str | Path, model_dir: str | Path, quant: str) -> dict[str, Any]:
    """Load `gguf_file` with transformers (`gguf_file=`), run the probe batch through it and through the
    source model in `model_dir`, and compare logits against the type's tolerance."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_file = Path(gguf_file)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    ids = probe_ids(tokenizer)
    source = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name, dtype=torch.float32).eval()
    with torch.no_grad():
        expected = source(input_ids=ids).logits
        got = loaded(input_ids=ids).logits
    result = compare_logits(got, expected)
    tolerance = TOLERANCE.get(quant, 0.3)
    return {**result, "tolerance": tolerance, "ok": result["rel_error"] <= tolerance, "reference": str(model_dir)}
