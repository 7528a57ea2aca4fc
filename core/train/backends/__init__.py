"""Backend registry. `available_backends()` lists what this machine can run (without importing
unsloth); `resolve_backend_name(config)` applies `backend: auto|hf|unsloth`; `create_backend` builds one."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from core.errors import TunewizError

if TYPE_CHECKING:
    from core.config import TrainConfig
    from core.train.backends.base import TrainerBackend

BACKENDS = ("hf", "unsloth")
UNSLOTH_INSTALL = 'pip install ".[unsloth]"'


def unsloth_installed() -> bool:
    return importlib.util.find_spec("unsloth") is not None


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def available_backends() -> list[str]:
    """Backends that can train here: hf always; unsloth with CUDA and the package installed."""
    names = ["hf"]
    if unsloth_installed() and cuda_available():
        names.append("unsloth")
    return names


def resolve_backend_name(config: "TrainConfig") -> str:
    """`auto` picks unsloth when CUDA and unsloth are present (single process), else hf. An explicit
    `unsloth` that cannot run fails with what to install or change."""
    if config.backend == "hf":
        return "hf"
    if config.backend in ("openai", "together"):
        raise TunewizError(f"backend {config.backend} is a hosted API, not a local trainer",
                           hint="start it with `tunewiz train` (which routes to the provider) or `tunewiz hosted start`")
    if config.backend == "unsloth":
        if not cuda_available():
            raise TunewizError("backend unsloth needs a CUDA GPU and none is available",
                               hint="set backend: hf (or auto) to train with transformers+peft+trl")
        if not unsloth_installed():
            raise TunewizError("backend unsloth is not installed", hint=f"install it with `{UNSLOTH_INSTALL}`, or set backend: hf")
        return "unsloth"
    return "unsloth" if "unsloth" in available_backends() and config.gpus == 1 else "hf"


def create_backend(name: str, config, run, ctx, *, max_steps: int | None = None) -> "TrainerBackend":
    if name == "unsloth":
        from core.train.backends.unsloth import UnslothBackend

        return UnslothBackend(config, run, ctx, max_steps=max_steps)
    if name == "hf":
        from core.train.backends.hf import HFBackend

        return HFBackend(config, run, ctx, max_steps=max_steps)
    raise TunewizError(f"unknown backend {name!r}", hint=f"one of: auto, {', '.join(BACKENDS)}")
