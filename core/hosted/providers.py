"""What tunewiz knows about each hosted fine-tuning provider: the SDK that talks to it, the key's
environment variable, the default model, the data rules, the default-epoch rule and the price table.

Prices are per million billable training tokens, as published on each provider's pricing page on the
date in `PRICES_READ`; they change, so `estimate` shows that date and every price can be overridden
(`--price`, or a `hosted-prices.yaml` in TUNEWIZ_HOME)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

PRICES_READ = "2025-06-01"


@dataclass(frozen=True)
class Provider:
    """One hosted provider: identity, limits and prices. Behaviour (upload, create, poll) is in `api.py`."""

    name: str
    title: str
    sdk_module: str
    pip_name: str
    min_sdk: str
    key_env: str
    base_url_env: str
    default_model: str
    pricing_url: str
    min_examples: int
    recommended_examples: int
    terminal_statuses: frozenset[str]
    hyperparameters: dict[str, str] = field(default_factory=dict)

    def token_limit(self, model: str) -> int:
        return _token_limit(self.name, model)

    def price_per_million(self, model: str, *, lora: bool = True) -> tuple[float | None, str]:
        """(USD per 1M training tokens, which table row matched) or (None, reason)."""
        return _price(self.name, model, lora=lora)

    def default_epochs(self, n_examples: int) -> tuple[int, str]:
        """The number of epochs the provider picks for "auto", and the rule that gave it."""
        return _DEFAULT_EPOCHS[self.name](n_examples)


OPENAI = Provider(
    name="openai",
    title="OpenAI",
    sdk_module="openai",
    pip_name="openai",
    min_sdk="1.40",
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    default_model="gpt-4o-mini-2024-07-18",
    pricing_url="https://openai.com/api/pricing/",
    min_examples=10,
    recommended_examples=50,
    terminal_statuses=frozenset({"succeeded", "failed", "cancelled"}),
    hyperparameters={
        "n_epochs": "passes over the data (1-50, or auto)",
        "batch_size": "examples per step (or auto)",
        "learning_rate_multiplier": "scales the provider's base learning rate (or auto)",
        "suffix": "up to 64 characters added to the fine-tuned model's name",
        "seed": "random seed for reproducibility",
    },
)

TOGETHER = Provider(
    name="together",
    title="Together",
    sdk_module="together",
    pip_name="together",
    min_sdk="2.0",
    key_env="TOGETHER_API_KEY",
    base_url_env="TOGETHER_BASE_URL",
    default_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
    pricing_url="https://www.together.ai/pricing#fine-tuning",
    min_examples=1,
    recommended_examples=50,
    terminal_statuses=frozenset({"completed", "error", "cancelled", "user_error"}),
    hyperparameters={
        "n_epochs": "passes over the data (default 1)",
        "batch_size": "examples per step, or max",
        "learning_rate": "peak learning rate (default 1e-5)",
        "lora": "true: LoRA adapters; false: full fine-tuning",
        "lora_r": "LoRA rank",
        "lora_alpha": "LoRA scaling (default twice the rank)",
        "lora_trainable_modules": "comma-separated modules, or all-linear",
        "n_evals": "evaluations on the validation file during training",
        "n_checkpoints": "intermediate checkpoints to keep",
        "suffix": "up to 40 characters added to the fine-tuned model's name",
        "seed": "random seed",
    },
)

PROVIDERS: dict[str, Provider] = {p.name: p for p in (OPENAI, TOGETHER)}


def get_provider(name: str) -> Provider:
    from core.errors import TunewizError

    try:
        return PROVIDERS[name]
    except KeyError:
        raise TunewizError(f"unknown provider {name!r}; choose one of: {', '.join(PROVIDERS)}") from None


# --- OpenAI ---------------------------------------------------------------------------------------------
# Training price per 1M tokens by model family (longest prefix wins), and the per-example context limit.
_OPENAI_PRICES: list[tuple[str, float]] = [
    ("gpt-4.1-nano", 1.50),
    ("gpt-4.1-mini", 5.00),
    ("gpt-4.1", 25.00),
    ("gpt-4o-mini", 3.00),
    ("gpt-4o", 25.00),
    ("gpt-3.5-turbo", 8.00),
]
_OPENAI_TOKEN_LIMITS: list[tuple[str, int]] = [
    ("gpt-4.1", 65_536),
    ("gpt-4o-mini", 65_536),
    ("gpt-4o", 65_536),
    ("gpt-3.5-turbo", 16_385),
]


def _openai_default_epochs(n: int) -> tuple[int, str]:
    """OpenAI's documented default: 3 epochs, raised for small sets so ~100 examples are seen (at most 25),
    lowered for large ones so at most ~25,000 are seen (at least 1)."""
    if n <= 0:
        return 3, "OpenAI's default"
    if n * 3 < 100:
        epochs = min(25, math.ceil(100 / n))
        return epochs, f"OpenAI's rule for {n} examples: ceil(100 / {n}), at most 25"
    if n * 3 > 25_000:
        epochs = max(1, 25_000 // n)
        return epochs, f"OpenAI's rule for {n} examples: floor(25000 / {n}), at least 1"
    return 3, "OpenAI's default for this dataset size"


# --- Together -------------------------------------------------------------------------------------------
# Per 1M tokens by model size; (max billions of parameters, LoRA price, full fine-tuning price).
_TOGETHER_TIERS: list[tuple[float, float, float]] = [
    (16, 0.48, 0.54),
    (69, 1.50, 1.65),
    (100, 2.90, 3.20),
]
_TOGETHER_TOKEN_LIMIT = 8192
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*[bB](?![a-zA-Z])")


def _together_default_epochs(n: int) -> tuple[int, str]:
    return 1, "Together's default n_epochs"


def model_size_billions(model: str) -> float | None:
    """Parameters in billions from a model name ("Llama-3.1-70B" -> 70, "8x7B" -> 56)."""
    moe = re.search(r"(\d+)x(\d+(?:\.\d+)?)[bB]", model)
    if moe:
        return int(moe.group(1)) * float(moe.group(2))
    sizes = [float(m) for m in _SIZE.findall(model)]
    return max(sizes) if sizes else None


def _price(provider: str, model: str, *, lora: bool) -> tuple[float | None, str]:
    lowered = model.lower().removeprefix("ft:")
    if provider == "openai":
        for prefix, price in sorted(_OPENAI_PRICES, key=lambda p: -len(p[0])):
            if lowered.startswith(prefix):
                return price, prefix
        return None, f"no price known for {model!r}"
    size = model_size_billions(model)
    if size is None:
        return None, f"cannot tell the size of {model!r} from its name"
    for max_b, lora_price, full_price in _TOGETHER_TIERS:
        if size <= max_b:
            kind = "LoRA" if lora else "full"
            return (lora_price if lora else full_price), f"{kind}, up to {max_b:g}B"
    return None, f"no price tier for a {size:g}B model"


def _token_limit(provider: str, model: str) -> int:
    if provider == "openai":
        lowered = model.lower().removeprefix("ft:")
        for prefix, limit in sorted(_OPENAI_TOKEN_LIMITS, key=lambda p: -len(p[0])):
            if lowered.startswith(prefix):
                return limit
        return 65_536
    return _TOGETHER_TOKEN_LIMIT


_DEFAULT_EPOCHS: dict[str, Callable[[int], tuple[int, str]]] = {
    "openai": _openai_default_epochs,
    "together": _together_default_epochs,
}


def price_table() -> dict[str, Any]:
    """The built-in table, for `--json` output and the README."""
    return {
        "read": PRICES_READ,
        "unit": "USD per 1M training tokens",
        "openai": {"source": OPENAI.pricing_url, "models": dict(_OPENAI_PRICES)},
        "together": {
            "source": TOGETHER.pricing_url,
            "tiers": [{"max_billions": b, "lora": l, "full": f} for b, l, f in _TOGETHER_TIERS],
        },
    }
