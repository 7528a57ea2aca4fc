"""Samples for `gpu` events: NVML telemetry per GPU (through `core.hardware` when present), the
process's peak allocated/reserved CUDA memory, and its resident memory (the CPU story)."""

from __future__ import annotations

import os
import sys
from typing import Any


def rss_gb() -> float | None:
    """Resident memory of this process in GB (psutil when installed, else /proc, else ru_maxrss)."""
    try:
        import psutil

        return round(psutil.Process(os.getpid()).memory_info().rss / 1e9, 3)
    except Exception:
        pass
    try:
        with open(f"/proc/{os.getpid()}/statm") as fh:
            pages = int(fh.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 1e9, 3)
    except Exception:
        return None


def gpu_list() -> list[dict[str, Any]]:
    try:
        from core.hardware import sample_telemetry
    except ImportError:
        return []
    try:
        return list(sample_telemetry())
    except Exception:  # telemetry must never take a run down
        return []


def cuda_available() -> bool:
    torch = sys.modules.get("torch")
    try:
        return bool(torch and torch.cuda.is_available())
    except Exception:
        return False


def peak_memory_gb() -> tuple[float | None, float | None]:
    """(peak allocated, peak reserved) CUDA memory of this process in GB, or (None, None) on CPU."""
    if not cuda_available():
        return None, None
    import torch

    return (
        round(torch.cuda.max_memory_allocated() / 1e9, 3),
        round(torch.cuda.max_memory_reserved() / 1e9, 3),
    )


def sample() -> dict[str, Any]:
    """Fields of one `gpu` event."""
    peak_alloc, peak_reserved = peak_memory_gb()
    return {
        "device": "cuda" if cuda_available() else "cpu",
        "gpus": gpu_list() if cuda_available() else [],
        "peak_allocated_gb": peak_alloc,
        "peak_reserved_gb": peak_reserved,
        "rss_gb": rss_gb(),
    }
