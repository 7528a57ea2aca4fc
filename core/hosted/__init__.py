"""Hosted fine-tuning (OpenAI, Together) behind the same run interface as local training.

Public API (no SDK is imported until a job is started or followed):
- `check_file(provider, path, model=...)` -> CheckReport with {line, field, code, message} errors/warnings
- `estimate_cost(provider, train, val=..., model=..., epochs="auto"|N, ...)` -> Estimate
- `start_hosted_run(provider, train_file, *, val_file, model, hyperparameters, runs_dir, base_url, detach)` -> RunDir
- `cancel_run(run)`, `follow_run(run)`, `is_hosted_run(run)`, `resolve_api_key(provider)`
- `FakeProviderServer` (core.hosted.fake): a local stand-in of both APIs for tests and demos."""

from core.hosted.checks import CheckReport, check_file
from core.hosted.estimate import Estimate, estimate_cost
from core.hosted.providers import PROVIDERS, get_provider, price_table
from core.hosted.run import (
    ACCEPTED, cancel_run, follow_run, hyperparameters_from_config, is_hosted_run, resolve_api_key,
    start_hosted_run, validate_hyperparameters,
)

__all__ = [
    "ACCEPTED", "PROVIDERS", "CheckReport", "Estimate", "cancel_run", "check_file", "estimate_cost",
    "follow_run", "get_provider", "hyperparameters_from_config", "is_hosted_run", "price_table",
    "resolve_api_key", "start_hosted_run", "validate_hyperparameters",
]
