"""One entry point for every export of a finished run, shared by the CLI and the Export step.
Exports land in `<run>/export/` unless an output folder is given, and each verified export is recorded
in `<run>/export.json`:

  {"exports": [{"format", "quant", "path", "verify": {...,"ok"}, "modelfile"?, "hub_url"?, "created"}]}"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

from core.errors import TunewizError
from core.runs import RunDir, write_json_atomic

FORMATS = ("adapter", "merged", "gguf")
QUANTS = ("f16", "q8_0", "q4_0", "q4_k_m", "q5_k_m")
EXPORT_FILE = "export.json"

Progress = Callable[[str, int, int], None]


def default_out(run: RunDir, fmt: str) -> Path:
    return run.path / "export" / fmt


def read_exports(run: RunDir) -> list[dict[str, Any]]:
    try:
        data = json.loads((run.path / EXPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return list(data.get("exports", [])) if isinstance(data, dict) else []


def _record(run: RunDir, entry: dict[str, Any]) -> None:
    exports = [e for e in read_exports(run) if e.get("path") != entry["path"]]
    exports.append(entry)
    write_json_atomic(run.path / EXPORT_FILE, {"exports": exports})


def available_quants() -> dict[str, str | None]:
    """Each GGUF type -> None when it can be written here, else why not (what to install)."""
    from core.export.llamacpp import INSTALL_HINT, K_QUANTS, k_quant_available

    ok = k_quant_available()
    return {q: (None if q not in K_QUANTS or ok else f"needs llama.cpp's llama-quantize: {INSTALL_HINT}") for q in QUANTS}


def check_request(fmt: str, quant: str | None, ollama: bool) -> str | None:
    """Validate the combination before any slow work; returns the effective quant (None for non-GGUF)."""
    if fmt not in FORMATS:
        raise TunewizError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt != "gguf":
        if quant:
            raise TunewizError(f"--quant applies to --format gguf, not {fmt}")
        if ollama and fmt == "adapter":
            raise TunewizError("--ollama needs --format gguf (or merged): Ollama runs full models, not bare adapters")
        return None
    quant = quant or "q8_0"
    if quant not in QUANTS:
        raise TunewizError(f"--quant {quant!r}: choose one of {', '.join(QUANTS)}")
    from core.export.llamacpp import INSTALL_HINT, K_QUANTS, k_quant_available

    if quant in K_QUANTS and not k_quant_available():
        raise TunewizError(f"{quant} needs llama.cpp's llama-quantize, which is not installed", hint=INSTALL_HINT)
    return quant


def export_run(run: RunDir, fmt: str, *, quant: str | None = None, ollama: bool = False, out: str | Path | None = None,
               push_to_hub: str | None = None, verify: bool = True, progress: Progress | None = None) -> dict[str, Any]:
    """Export `run` as an adapter folder, a merged safetensors folder or a GGUF file (optionally with an
    Ollama Modelfile and a Hub push), verify it, record it in export.json and return the record.
    Raises TunewizError (nothing recorded) when verification fails."""
    from core.evaluate.loading import adapter_dir, run_config

    quant = check_request(fmt, quant, ollama)
    if push_to_hub:
        from core.export.hub import hub_token

        hub_token()  # fail before the slow work when there is no token
    config = run_config(run)
    adapter_dir(run)
    report = progress or (lambda stage, done, total: None)
    out_path = Path(out).resolve() if out else default_out(run, fmt)

    if fmt == "adapter":
        from core.export.merge import export_adapter

        entry = export_adapter(run, out_path, progress=report)
    elif fmt == "merged":
        from core.export.merge import export_merged

        entry = export_merged(run, out_path, progress=report)
    else:
        entry = _export_gguf(run, config, out_path, quant or "q8_0", verify, report)

    if verify and not entry["verify"].get("ok", False):
        raise TunewizError(f"{fmt} export written to {entry['path']} but failed verification: {entry['verify']}", exit_code=3)
    if ollama:
        from core.evaluate.loading import load_tokenizer
        from core.export.ollama import write_modelfile

        entry["modelfile"] = str(write_modelfile(entry["path"], load_tokenizer(run, config), config.base_model,
                                                 name=run.run_id.lower()))
    if push_to_hub:
        from core.export.hub import push_folder

        report("push", 0, 1)
        entry["hub_url"] = push_folder(entry["path"], push_to_hub)
        report("push", 1, 1)
    entry["quant"] = quant
    entry["created"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    _record(run, entry)
    return entry


def _export_gguf(run: RunDir, config, out_path: Path, quant: str, verify: bool, report: Progress) -> dict[str, Any]:
    from core.export import gguf_file, llamacpp
    from core.export.merge import export_merged

    merged_dir = run.path / "export" / "merged"
    gguf_file.supported_architecture(config.base_model) if Path(config.base_model, "config.json").exists() else None
    merged = export_merged(run, merged_dir, progress=lambda s, d, t: report(f"merge:{s}", d, t))
    if not merged["verify"]["ok"]:
        raise TunewizError(f"merge failed verification before GGUF conversion: {merged['verify']}", exit_code=3)
    file = out_path if out_path.suffix == ".gguf" else out_path / f"{run.run_id}-{quant}.gguf"
    if quant in llamacpp.K_QUANTS:
        f16 = file.with_name(f"{file.stem}.f16-tmp.gguf")
        gguf_file.write_gguf(merged_dir, f16, "f16", name=run.run_id, progress=lambda s, d, t: report("convert", d, t))
        report("quantize", 0, 1)
        llamacpp.quantize(f16, file, quant)
        f16.unlink(missing_ok=True)
        report("quantize", 1, 1)
    else:
        gguf_file.write_gguf(merged_dir, file, quant, name=run.run_id, progress=lambda s, d, t: report("convert", d, t))
    result = {"format": "gguf", "path": str(file), "merged": str(merged_dir), "bytes": file.stat().st_size}
    if verify:
        report("verify", 0, 1)
        result["verify"] = gguf_file.verify_gguf(file, merged_dir, quant)
        report("verify", 1, 1)
    else:
        result["verify"] = {"ok": True, "skipped": True}
    return result
