"""Model catalog: the architecture facts the VRAM estimator needs (hidden size, layers, attention and
key/value heads, head dim, MLP size, vocabulary, tied embeddings), for the built-in models and for any
other model through its `config.json` (a local folder, the Hugging Face cache, or, when online, that one
file from the Hub). Weights are never loaded to plan.

Facts for the models marked `model_configs.json` come from `shared/reference/model_configs.json`
(itself citing each model's Hugging Face config.json via Lightning-AI/litgpt `litgpt/config.py`); the
others are the values published in each model's config.json on the Hub."""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.errors import TunewizError

REF_SOURCE = "shared/reference/model_configs.json"
HUB_SOURCE = "published config.json on the Hugging Face Hub"


@dataclass(frozen=True)
class Arch:
    """One model's shape. `intermediate` is the width of one MLP branch (SwiGLU: gate = up = I)."""

    id: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    gated_mlp: bool = True
    qkv_bias: bool = False
    family: str = ""
    source: str = HUB_SOURCE
    aliases: tuple[str, ...] = field(default=(), compare=False)

    @property
    def q_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def mlp_linears(self) -> int:
        return 3 if self.gated_mlp else 2

    def linear_params_per_layer(self) -> int:
        """Weights of the nn.Linear layers inside one block (what bitsandbytes quantizes)."""
        h = self.hidden
        attn = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        return attn + self.mlp_linears * h * self.intermediate

    @property
    def linear_params(self) -> int:
        return self.layers * self.linear_params_per_layer()

    @property
    def embed_params(self) -> int:
        return self.vocab * self.hidden

    @property
    def head_params(self) -> int:
        return 0 if self.tied else self.vocab * self.hidden

    @property
    def other_params(self) -> int:
        """Norms and biases (stay 16-bit under quantization)."""
        bias = self.layers * (self.q_dim + 2 * self.kv_dim) if self.qkv_bias else 0
        return self.layers * 2 * self.hidden + self.hidden + bias

    @property
    def params(self) -> int:
        return self.linear_params + self.embed_params + self.head_params + self.other_params

    @property
    def params_b(self) -> float:
        return self.params / 1e9

    def lora_params(self, r: int, targets: str = "all") -> int:
        """LoRA adapter parameters: r (d_in + d_out) per adapted linear. targets: attn (q,k,v,o),
        qv (q and v only), all (attention and MLP)."""
        h = self.hidden
        q = r * (h + self.q_dim)
        kv = r * (h + self.kv_dim)
        o = r * (self.q_dim + h)
        mlp = self.mlp_linears * r * (h + self.intermediate)
        per_layer = {"qv": q + kv, "attn": q + 2 * kv + o, "all": q + 2 * kv + o + mlp, "all+head": q + 2 * kv + o + mlp}[targets]
        head = r * (h + self.vocab) if targets == "all+head" else 0
        return self.layers * per_layer + head

    def lora_input_widths(self, targets: str = "all") -> int:
        """Sum of the input widths of the adapted linears in one block (what LoRA dropout copies)."""
        h = self.hidden
        return {"qv": 2 * h, "attn": 3 * h + self.q_dim, "all": 5 * h + self.q_dim + self.intermediate,
                "all+head": 5 * h + self.q_dim + self.intermediate}[targets]

    @property
    def parallel_block(self) -> bool:
        """Attention and MLP read one shared LayerNorm output (phi-1/2, GPT-NeoX): one norm per block."""
        return self.family in {"phi", "gpt_neox", "gptj"}

    @property
    def logit_softcap(self) -> bool:
        """Gemma 2 soft-caps its final logits (divide, tanh, multiply: more vocabulary-sized tensors)."""
        return self.family == "gemma2"

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        out["params_b"] = round(self.params_b, 3)
        return out


def _a(id, h, L, a, kv, hd, inter, V, tied, family, source=HUB_SOURCE, gated=True, bias=False, aliases=()):
    return Arch(id, h, L, a, kv, hd, inter, V, tied, gated, bias, family, source, tuple(aliases))


# fmt: off
CATALOG: tuple[Arch, ...] = (
    # --- from shared/reference/model_configs.json -------------------------------------------------
    _a("meta-llama/Llama-3.1-8B", 4096, 32, 32, 8, 128, 14336, 128256, False, "llama", REF_SOURCE,
       aliases=("llama-3-8b", "llama-3.1-8b-instruct")),
    _a("meta-llama/Llama-3.1-70B", 8192, 80, 64, 8, 128, 28672, 128256, False, "llama", REF_SOURCE,
       aliases=("llama-3.3-70b", "llama-3-70b")),
    _a("meta-llama/Llama-3.2-1B", 2048, 16, 32, 8, 64, 8192, 128256, True, "llama", REF_SOURCE),
    _a("meta-llama/Llama-3.2-3B", 3072, 28, 24, 8, 128, 8192, 128256, True, "llama", REF_SOURCE),
    _a("Qwen/Qwen2.5-0.5B", 896, 24, 14, 2, 64, 4864, 151936, True, "qwen2", REF_SOURCE, bias=True),
    _a("Qwen/Qwen2.5-1.5B", 1536, 28, 12, 2, 128, 8960, 151936, True, "qwen2", REF_SOURCE, bias=True),
    _a("Qwen/Qwen2.5-3B", 2048, 36, 16, 2, 128, 11008, 151936, True, "qwen2", REF_SOURCE, bias=True),
    _a("Qwen/Qwen2.5-7B", 3584, 28, 28, 4, 128, 18944, 152064, False, "qwen2", REF_SOURCE, bias=True,
       aliases=("qwen2-7b",)),
    _a("Qwen/Qwen2.5-14B", 5120, 48, 40, 8, 128, 13824, 152064, False, "qwen2", REF_SOURCE, bias=True),
    _a("Qwen/Qwen2.5-32B", 5120, 64, 40, 8, 128, 27648, 152064, False, "qwen2", REF_SOURCE, bias=True),
    _a("Qwen/Qwen2.5-72B", 8192, 80, 64, 8, 128, 29568, 152064, False, "qwen2", REF_SOURCE, bias=True),
    _a("deepseek-ai/deepseek-coder-33b-base", 7168, 62, 56, 8, 128, 19200, 32256, False, "llama", REF_SOURCE,
       aliases=("deepseek-coder-33b-instruct", "deepseek-coder-33b")),
    _a("mistralai/Mistral-7B-v0.3", 4096, 32, 32, 8, 128, 14336, 32768, False, "mistral", REF_SOURCE),
    _a("google/gemma-2-9b", 3584, 42, 16, 8, 256, 14336, 256000, True, "gemma2", REF_SOURCE),
    _a("google/gemma-2-27b", 4608, 46, 32, 16, 128, 36864, 256000, True, "gemma2", REF_SOURCE),
    _a("microsoft/Phi-3.5-mini-instruct", 3072, 32, 32, 32, 96, 8192, 32064, False, "phi3", REF_SOURCE,
       aliases=("phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct", "phi-3.5-mini")),
    # --- other published config.json facts -----------------------------------------------------
    _a("HuggingFaceTB/SmolLM2-135M", 576, 30, 9, 3, 64, 1536, 49152, True, "llama"),
    _a("HuggingFaceTB/SmolLM2-360M", 960, 32, 15, 5, 64, 2560, 49152, True, "llama"),
    _a("HuggingFaceTB/SmolLM2-1.7B", 2048, 24, 32, 32, 64, 8192, 49152, True, "llama"),
    _a("meta-llama/Llama-2-7b-hf", 4096, 32, 32, 32, 128, 11008, 32000, False, "llama", aliases=("llama-2-7b-chat",)),
    _a("meta-llama/Llama-2-13b-hf", 5120, 40, 40, 40, 128, 13824, 32000, False, "llama"),
    _a("meta-llama/Llama-2-70b-hf", 8192, 80, 64, 8, 128, 28672, 32000, False, "llama"),
    _a("mistralai/Mistral-7B-v0.1", 4096, 32, 32, 8, 128, 14336, 32000, False, "mistral"),
    _a("TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T", 2048, 22, 32, 4, 64, 5632, 32000, False, "llama",
       aliases=("tinyllama-1.1b", "tinyllama", "tinyllama-1.1b-chat-v1.0")),
    # Qwen v1: the config's intermediate_size is twice the width of one SwiGLU branch (w1, w2).
    _a("Qwen/Qwen-1_8B", 2048, 24, 16, 16, 128, 5504, 151936, False, "qwen", bias=True),
    _a("Qwen/Qwen-7B", 4096, 32, 32, 32, 128, 11008, 151936, False, "qwen", bias=True),
    _a("Qwen/Qwen-14B", 5120, 40, 40, 40, 128, 13696, 152064, False, "qwen", bias=True),
    _a("Qwen/Qwen-72B", 8192, 80, 64, 64, 128, 24576, 152064, False, "qwen", bias=True),
    _a("Qwen/Qwen3-0.6B", 1024, 28, 16, 8, 128, 3072, 151936, True, "qwen3"),
    _a("google/gemma-2b", 2048, 18, 8, 1, 256, 16384, 256000, True, "gemma"),
    _a("google/gemma-2-2b", 2304, 26, 8, 4, 256, 9216, 256000, True, "gemma2"),
    _a("google/codegemma-7b", 3072, 28, 16, 16, 256, 24576, 256000, True, "gemma", aliases=("gemma-7b",)),
    _a("google/gemma-3-27b-it", 5376, 62, 32, 16, 128, 21504, 262208, True, "gemma3", aliases=("gemma-3-27b",)),
    _a("microsoft/phi-1_5", 2048, 24, 32, 32, 64, 8192, 51200, False, "phi", gated=False, bias=True),
    _a("microsoft/phi-2", 2560, 32, 32, 32, 80, 10240, 51200, False, "phi", gated=False, bias=True),
    _a("microsoft/phi-4", 5120, 40, 40, 10, 128, 17920, 100352, False, "phi3"),
    _a("stabilityai/stablelm-base-alpha-3b", 4096, 16, 32, 32, 128, 16384, 50688, False, "gpt_neox", gated=False,
       bias=True),
    _a("bigcode/starcoder", 6144, 40, 48, 1, 128, 24576, 49152, True, "gpt_bigcode", gated=False, bias=True,
       aliases=("starcoderbase",)),
)
# fmt: on

# The models the Plan step shows by default (the guide's picks plus a small-to-large ladder).
PICKER_MODELS: tuple[str, ...] = (
    "HuggingFaceTB/SmolLM2-1.7B",
    "meta-llama/Llama-3.2-1B",
    "meta-llama/Llama-3.2-3B",
    "Qwen/Qwen2.5-3B",
    "microsoft/Phi-3.5-mini-instruct",
    "mistralai/Mistral-7B-v0.3",
    "Qwen/Qwen2.5-7B",
    "meta-llama/Llama-3.1-8B",
    "google/gemma-2-9b",
    "Qwen/Qwen2.5-14B",
    "google/gemma-2-27b",
    "Qwen/Qwen2.5-32B",
    "deepseek-ai/deepseek-coder-33b-base",
    "meta-llama/Llama-3.1-70B",
    "Qwen/Qwen2.5-72B",
)

_STRIP_SUFFIXES = (
    "-unsloth-bnb-4bit", "-bnb-4bit", "-bnb-8bit", "-gptq", "-awq", "-int4", "-int8", "-instruct", "-chat", "-it",
    "-hf", "-base",
)


def model_key(model_id: str) -> str:
    """A normalized key: lowercase name without org, `Meta-` prefix, unsloth quantization and
    Instruct/Chat/it suffixes; Qwen2.5-Coder maps to the Qwen2.5 model of the same size."""
    name = model_id.strip().rstrip("/").split("/")[-1].lower()
    name = re.sub(r"\s*\(.*\)$", "", name)
    if name.startswith("meta-llama-"):
        name = name[len("meta-"):]
    changed = True
    while changed:
        changed = False
        for suffix in _STRIP_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                changed = True
    name = re.sub(r"^qwen2\.5-coder-", "qwen2.5-", name)
    name = re.sub(r"^qwen2\.5-math-", "qwen2.5-", name)
    return name


def _index() -> dict[str, Arch]:
    out: dict[str, Arch] = {}
    for arch in CATALOG:
        for key in (arch.id, *arch.aliases):
            out.setdefault(model_key(key), arch)
    return out


_INDEX = _index()


def catalog_lookup(model_id: str) -> Arch | None:
    """The built-in architecture for an id (any org, unsloth `-bnb-4bit`, Instruct/Coder variants)."""
    return _INDEX.get(model_key(model_id))


def _int(cfg: dict, *keys, default=None):
    for key in keys:
        if cfg.get(key) is not None:
            return int(cfg[key])
    return default


_UNGATED_TYPES = {"gpt2", "gpt_bigcode", "gpt_neox", "phi", "falcon", "starcoder2", "gptj", "opt", "bloom", "stablelm_epoch"}
_TIED_DEFAULT_TYPES = {"gpt2", "gpt_bigcode", "gemma", "gemma2", "gemma3", "gemma3_text", "opt", "bloom"}


def arch_from_config(cfg: dict[str, Any], model_id: str, source: str) -> Arch:
    """Build an Arch from a transformers `config.json` dict (multimodal configs: the text model)."""
    if isinstance(cfg.get("text_config"), dict):
        outer_tied = cfg.get("tie_word_embeddings")
        cfg = {**cfg["text_config"], **({"tie_word_embeddings": outer_tied} if outer_tied is not None else {})}
    mtype = str(cfg.get("model_type", ""))
    try:
        h = _int(cfg, "hidden_size", "n_embd", "d_model")
        layers = _int(cfg, "num_hidden_layers", "n_layer", "num_layers")
        heads = _int(cfg, "num_attention_heads", "n_head", "num_heads")
        if None in (h, layers, heads):
            raise KeyError("hidden_size/num_hidden_layers/num_attention_heads")
        kv = _int(cfg, "num_key_value_heads", "num_kv_heads", default=1 if cfg.get("multi_query") else heads)
        head_dim = _int(cfg, "head_dim", default=h // heads)
        gated = mtype not in _UNGATED_TYPES
        inter = _int(cfg, "intermediate_size", "n_inner", "ffn_hidden_size", default=4 * h)
        if mtype == "qwen":
            inter //= 2
        vocab = _int(cfg, "vocab_size", "padded_vocab_size")
        if vocab is None:
            raise KeyError("vocab_size")
    except (KeyError, TypeError, ValueError) as exc:
        raise TunewizError(f"{source}: config.json lacks the fields needed to plan ({exc})") from None
    tied = cfg.get("tie_word_embeddings")
    if tied is None:
        tied = mtype in _TIED_DEFAULT_TYPES
    bias = bool(cfg.get("attention_bias") or cfg.get("qkv_bias") or mtype in {"qwen", "qwen2", "phi", "gpt_bigcode", "gpt_neox"})
    return Arch(model_id, h, layers, heads, kv, head_dim, inter, vocab, bool(tied), gated, bias, mtype, source)


def _hf_cache_dirs() -> list[Path]:
    dirs = []
    for env in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(env):
            dirs.append(Path(os.environ[env]))
    home = os.environ.get("HF_HOME")
    dirs.append(Path(home) / "hub" if home else Path.home() / ".cache" / "huggingface" / "hub")
    return dirs


def find_cached_config(model_id: str) -> Path | None:
    """config.json for `org/name` in the local Hugging Face cache (newest snapshot), or None."""
    if "/" not in model_id:
        return None
    folder = "models--" + model_id.replace("/", "--")
    for cache in _hf_cache_dirs():
        snaps = cache / folder / "snapshots"
        if snaps.is_dir():
            found = sorted(snaps.glob("*/config.json"), key=lambda p: p.stat().st_mtime, reverse=True)
            if found:
                return found[0]
    return None


def _offline() -> bool:
    return any(os.environ.get(k, "").lower() in {"1", "true", "yes"} for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _read_config(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TunewizError(f"{path}: cannot read config.json ({exc})") from None


def resolve_arch(model: str, *, allow_download: bool = True) -> Arch:
    """The architecture of `model`: a local folder with config.json, a built-in catalog model, a model
    in the Hugging Face cache, or (online, unless `allow_download` is False) its config.json fetched alone.
    Raises TunewizError saying where it looked."""
    path = Path(model).expanduser()
    if path.is_dir():
        cfg_path = path / "config.json"
        if not cfg_path.is_file():
            raise TunewizError(f"{path}: no config.json in this folder, so its architecture is unknown")
        return arch_from_config(_read_config(cfg_path), str(path), str(cfg_path))
    if path.suffix == ".json" and path.is_file():
        return arch_from_config(_read_config(path), str(path), str(path))
    arch = catalog_lookup(model)
    if arch is not None:
        return arch
    cached = find_cached_config(model)
    if cached is not None:
        return arch_from_config(_read_config(cached), model, str(cached))
    if allow_download and "/" in model and not _offline():
        try:
            from huggingface_hub import hf_hub_download

            fetched = Path(hf_hub_download(model, "config.json"))
            return arch_from_config(_read_config(fetched), model, f"{model}/config.json (Hub)")
        except Exception as exc:  # network, gated repo, missing repo
            raise TunewizError(f"{model}: not in the catalog and its config.json could not be fetched ({exc})",
                               hint="pass a local folder with config.json, or a catalog model (tunewiz plan --json lists them)") from None
    raise TunewizError(
        f"{model}: not in the catalog, not a local folder, and not in the Hugging Face cache",
        hint="pass a local folder with config.json, or a catalog model such as meta-llama/Llama-3.1-8B",
    )
