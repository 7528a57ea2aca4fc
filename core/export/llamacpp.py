"""The k-quants the guide recommends (q4_k_m, q5_k_m) need llama.cpp's `llama-quantize`; tunewiz writes
an f16 GGUF in Python and hands it to that tool when it is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from core.errors import TunewizError

K_QUANTS = {"q4_k_m": "Q4_K_M", "q5_k_m": "Q5_K_M"}
INSTALL_HINT = (
    "install llama.cpp so `llama-quantize` is on PATH (macOS/Linux: `brew install llama.cpp`; or build "
    "https://github.com/ggml-org/llama.cpp with cmake and add build/bin to PATH, or set LLAMA_CPP_DIR), "
    "or choose q8_0 / q4_0, which tunewiz writes itself"
)


def find_llama_quantize() -> str | None:
    """Path of llama.cpp's quantize tool: $LLAMA_CPP_DIR (or its build/bin), then PATH; None if absent."""
    candidates = []
    root = os.environ.get("LLAMA_CPP_DIR")
    if root:
        for sub in ("", "build/bin", "bin"):
            candidates += [Path(root) / sub / "llama-quantize", Path(root) / sub / "quantize"]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which("llama-quantize") or shutil.which("quantize")


def k_quant_available() -> bool:
    return find_llama_quantize() is not None


def quantize(f16_file: str | Path, out_file: str | Path, quant: str, *, log=None) -> Path:
    """Run `llama-quantize F16 OUT TYPE`; a TunewizError says what to install when the tool is missing."""
    if quant not in K_QUANTS:
        raise TunewizError(f"{quant!r} is not a k-quant; k-quants: {', '.join(K_QUANTS)}")
    tool = find_llama_quantize()
    if tool is None:
        raise TunewizError(f"{quant} needs llama.cpp's llama-quantize, which is not installed", hint=INSTALL_HINT)
    cmd = [tool, str(f16_file), str(out_file), K_QUANTS[quant]]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if log:
        log(proc.stdout + proc.stderr)
    if proc.returncode != 0 or not Path(out_file).exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise TunewizError(f"llama-quantize failed ({proc.returncode}): {' / '.join(tail)}", exit_code=3)
    return Path(out_file)
