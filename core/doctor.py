"""`tunewiz doctor`: is this box ready to fine-tune? Each check says what it saw and, when something
is missing, what to run. Never raises, on any machine."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.hardware import detect_gpus

OK, WARN, FAIL, INFO = "ok", "warn", "fail", "info"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python() -> Check:
    v = platform.python_version()
    if sys.version_info >= (3, 11):
        return Check("python", OK, f"Python {v} ({sys.executable})")
    return Check("python", FAIL, f"Python {v} is too old", "install Python 3.11 or newer")


def check_gpus() -> tuple[Check, dict[str, Any]]:
    report = detect_gpus()
    if report.found:
        names = "; ".join(f"GPU {g.index}: {g.name}, {g.total_gb:.1f} GB ({g.free_gb:.1f} GB free)" for g in report.gpus)
        return Check("gpu", OK, f"{names}; driver {report.driver}"), report.to_json()
    return (
        Check("gpu", WARN, report.error or "no NVIDIA GPU / driver found",
              "training will run on the CPU (fine for the demo); on a GPU box install the NVIDIA driver "
              "and check `nvidia-smi`. Planning still works: `tunewiz plan --gpu 3090`."),
        report.to_json(),
    )


def check_torch() -> tuple[Check, dict[str, Any]]:
    if importlib.util.find_spec("torch") is None:
        return Check("torch", FAIL, "torch is not installed", "pip install torch"), {"cuda": False}
    try:
        import torch
    except Exception as exc:
        return Check("torch", FAIL, f"torch is installed but fails to import: {exc}", "reinstall torch"), {"cuda": False}
    cuda = bool(torch.cuda.is_available())
    info = {"version": torch.__version__, "cuda": cuda, "cuda_build": torch.version.cuda,
            "devices": torch.cuda.device_count() if cuda else 0}
    if cuda:
        bf16 = torch.cuda.is_bf16_supported()
        info["bf16"] = bf16
        return Check("torch", OK, f"torch {torch.__version__}, CUDA {torch.version.cuda}, {info['devices']} device(s), bf16 {'yes' if bf16 else 'no'}"), info
    if torch.version.cuda is None:
        return Check("torch", WARN, f"torch {torch.__version__} is a CPU-only build: CUDA is not visible",
                     "on a GPU box install a CUDA build of torch (see pytorch.org for your CUDA version)"), info
    return Check("torch", WARN, f"torch {torch.__version__} (CUDA {torch.version.cuda} build) sees no GPU",
                 "check the NVIDIA driver and CUDA_VISIBLE_DEVICES"), info


def check_stack() -> Check:
    names = ["transformers", "peft", "trl", "datasets", "accelerate"]
    found = {n: _version(n) for n in names}
    missing = [n for n, v in found.items() if v is None]
    detail = ", ".join(f"{n} {v}" for n, v in found.items() if v)
    if missing:
        return Check("hf-stack", FAIL, f"missing: {', '.join(missing)}; found: {detail}", f"pip install {' '.join(missing)}")
    return Check("hf-stack", OK, detail)


def check_bitsandbytes(cuda: bool) -> Check:
    v = _version("bitsandbytes")
    if v is None:
        return Check("bitsandbytes", WARN, "bitsandbytes is not installed: no QLoRA or 8-bit optimizers",
                     "pip install bitsandbytes")
    where = "4-bit QLoRA and 8-bit optimizers available" if cuda else "installed; QLoRA runs best with CUDA"
    return Check("bitsandbytes", OK, f"bitsandbytes {v}: {where}")


def check_unsloth(cuda: bool) -> Check:
    if importlib.util.find_spec("unsloth") is None:
        why = "optional; it needs CUDA" if not cuda else "optional; 2x faster and about half the memory on CUDA"
        return Check("unsloth", INFO, f"unsloth is not installed ({why}); the transformers+peft+trl backend is used",
                     'pip install ".[unsloth]"' if cuda else "")
    if not cuda:
        return Check("unsloth", WARN, f"unsloth {_version('unsloth')} is installed but needs CUDA, which is not available; "
                     "the transformers+peft+trl backend is used")
    try:
        import unsloth  # noqa: F401
    except Exception as exc:
        return Check("unsloth", WARN, f"unsloth is installed but fails to import: {type(exc).__name__}: {exc}",
                     "check that unsloth's pinned transformers/trl versions are installed (constraints/gpu-stack.txt)")
    return Check("unsloth", OK, f"unsloth {_version('unsloth')} imports; it will be the default backend")


def check_disk(folder: Path) -> Check:
    try:
        usage = shutil.disk_usage(folder)
    except OSError as exc:
        return Check("disk", WARN, f"cannot read free space of {folder}: {exc}")
    free = usage.free / 1e9
    detail = f"{free:.1f} GB free in {folder}"
    if free < 5:
        return Check("disk", FAIL, detail, "free space: checkpoints and merged models need 5-50 GB")
    if free < 30:
        return Check("disk", WARN, detail, "an 8B model's merged export alone is ~16 GB; keep 30 GB or more free")
    return Check("disk", OK, detail)


def check_smoke(steps: int = 8) -> tuple[Check, dict[str, Any]]:
    """Train a generated tiny model for a few steps through the real engine, in a temporary folder."""
    import tempfile

    from core.train.smoke import run_smoke

    import contextlib

    # The run trains in this process and its libraries print progress: keep stdout for the report.
    with tempfile.TemporaryDirectory(prefix="tunewiz-smoke-") as work, contextlib.redirect_stdout(sys.stderr):
        result = run_smoke(work, steps=steps)
    result.pop("run_dir", None)
    if not result.get("ok"):
        return Check("smoke", FAIL, f"a {steps}-step training run failed: {result.get('error')}",
                     "run `tunewiz doctor --smoke` with TUNEWIZ_DEBUG=1, or check the lines above"), result
    loss = ""
    if result.get("first_loss") is not None and result.get("final_loss") is not None:
        loss = f", loss {result['first_loss']:.3f} -> {result['final_loss']:.3f}"
    return Check("smoke", OK, f"trained a tiny model {result['steps']} steps on {result['device']} with the "
                 f"{result['backend']} backend in {result['seconds']:.1f}s{loss}"), result


def run_checks(project_dir: str | Path | None = None, smoke: bool = False) -> dict[str, Any]:
    """All checks; `ok` is False when any check failed (warnings are allowed). `smoke` also trains a
    tiny model for a few steps through the engine: the quickest proof that a GPU box is ready."""
    folder = Path(project_dir or ".").resolve()
    checks = [check_python()]
    gpu_check, gpu_info = check_gpus()
    checks.append(gpu_check)
    torch_check, torch_info = check_torch()
    checks.append(torch_check)
    checks.append(check_stack())
    cuda = bool(torch_info.get("cuda"))
    checks.append(check_bitsandbytes(cuda))
    checks.append(check_unsloth(cuda))
    checks.append(check_disk(folder))
    smoke_info = None
    if smoke:
        smoke_check, smoke_info = check_smoke()
        checks.append(smoke_check)
    return {
        "ok": not any(c.status == FAIL for c in checks),
        "checks": [asdict(c) for c in checks],
        "gpus": gpu_info,
        "torch": torch_info,
        "backend": "unsloth" if cuda and importlib.util.find_spec("unsloth") else "hf",
        "project_dir": str(folder),
        **({"smoke": smoke_info} if smoke else {}),
    }
