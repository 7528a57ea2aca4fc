"""Cost estimate before any job is created: billable tokens x epochs x price.

Billable tokens per epoch are the training examples' tokens, each capped at the model's limit (longer
examples are truncated, and billed only up to it). Epochs "auto" follow the provider's documented rule
(`Provider.default_epochs`). Together also bills validation tokens for each evaluation (n_evals).
Prices come from the built-in table (with the date it was read), then `hosted-prices.yaml` in
TUNEWIZ_HOME ({provider: {model or prefix: usd_per_million}}), then an explicit `price` argument."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import TunewizError
from core.hosted.checks import CheckReport, check_file
from core.hosted.providers import PRICES_READ, get_provider

PRICES_FILE = "hosted-prices.yaml"


@dataclass
class Estimate:
    provider: str
    model: str
    examples: int
    tokens_per_epoch: int
    epochs: int
    epochs_rule: str
    validation_tokens: int
    n_evals: int
    billable_tokens: int
    price_per_million: float | None
    price_source: str
    cost_usd: float | None
    tokenizer: str
    truncated_examples: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        cost = format_usd(self.cost_usd) if self.cost_usd is not None else "unknown (no price; pass --price)"
        approx = "about " if self.tokenizer == "approx" else ""
        lines = [
            f"{self.examples} examples, {approx}{self.tokens_per_epoch:,} billable tokens per epoch ({self.tokenizer})",
            f"Epochs: {self.epochs} ({self.epochs_rule})",
        ]
        if self.n_evals and self.validation_tokens:
            lines.append(f"+ {self.validation_tokens:,} validation tokens x {self.n_evals} evaluations")
        price = f"${self.price_per_million:g} per 1M tokens" if self.price_per_million is not None else "no price"
        lines.append(f"{self.billable_tokens:,} billable tokens x {price} ({self.price_source})")
        lines.append(f"Estimated cost: {cost}")
        return "\n".join(lines)


def format_usd(value: float) -> str:
    """Dollars with cents, or four decimals under a dollar (small jobs cost fractions of a cent)."""
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def tunewiz_home() -> Path:
    return Path(os.environ.get("TUNEWIZ_HOME") or Path.home() / ".tunewiz")


def user_price(provider: str, model: str) -> float | None:
    """A price from TUNEWIZ_HOME/hosted-prices.yaml: exact model first, then the longest matching prefix."""
    import yaml

    path = tunewiz_home() / PRICES_FILE
    if not path.exists():
        return None
    try:
        table = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(provider) or {}
    except (yaml.YAMLError, AttributeError):
        raise TunewizError(f"{path}: expected {{provider: {{model: usd_per_million}}}}") from None
    if model in table:
        return float(table[model])
    prefixes = sorted((k for k in table if model.startswith(str(k))), key=len, reverse=True)
    return float(table[prefixes[0]]) if prefixes else None


def parse_epochs(value: Any) -> int | str:
    """"auto" or a positive whole number."""
    if value is None or str(value).strip().lower() == "auto":
        return "auto"
    try:
        n = int(str(value))
    except ValueError:
        raise TunewizError(f"epochs: expected a whole number or auto, got {value!r}") from None
    if n < 1 or n > 100:
        raise TunewizError(f"epochs: {n} is out of range (1-100)")
    return n


def estimate_cost(provider: str, train: str | Path | CheckReport, *, val: str | Path | CheckReport | None = None,
                  model: str | None = None, epochs: int | str = "auto", n_evals: int = 0, lora: bool = True,
                  price: float | None = None, tokenizer: str = "auto") -> Estimate:
    """The estimate for training `train` (a path or an existing check report) on `provider`."""
    prov = get_provider(provider)
    model = model or prov.default_model
    report = train if isinstance(train, CheckReport) else check_file(prov, train, model=model, tokenizer=tokenizer)
    limit = report.token_limit
    per_epoch = sum(min(t, limit) for t in report.tokens)
    epochs = parse_epochs(epochs)
    if epochs == "auto":
        n_epochs, rule = prov.default_epochs(report.examples)
    else:
        n_epochs, rule = epochs, "as you chose"
    val_tokens = 0
    if val is not None and prov.name == "together" and n_evals:
        vreport = val if isinstance(val, CheckReport) else check_file(prov, val, model=model, tokenizer=tokenizer,
                                                                         validation=True)
        val_tokens = sum(min(t, limit) for t in vreport.tokens)
    evals = n_evals if prov.name == "together" else 0
    billable = per_epoch * n_epochs + val_tokens * evals
    if price is not None:
        per_million, source = float(price), "your --price"
    else:
        override = user_price(prov.name, model)
        if override is not None:
            per_million, source = override, f"{tunewiz_home() / PRICES_FILE}"
        else:
            per_million, row = prov.price_per_million(model, lora=lora)
            source = f"{prov.title} price list read {PRICES_READ}, {row}" if per_million is not None else row
    cost = round(billable / 1_000_000 * per_million, 6) if per_million is not None else None
    return Estimate(
        provider=prov.name, model=model, examples=report.examples, tokens_per_epoch=per_epoch, epochs=n_epochs,
        epochs_rule=rule, validation_tokens=val_tokens, n_evals=evals, billable_tokens=billable,
        price_per_million=per_million, price_source=source, cost_usd=cost, tokenizer=report.tokenizer,
        truncated_examples=sum(1 for t in report.tokens if t > limit),
    )
