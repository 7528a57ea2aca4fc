"""GPU detection and telemetry through nvidia-ml-py (NVML), plus target-card presets for planning
when the box has no GPU. Nothing here raises on a machine without a GPU or driver: detection says why
in plain words, and the telemetry sampler returns an empty list."""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from core.errors import TunewizError

GB = 1e9


@dataclass(frozen=True)
class GpuInfo:
    index: int
    name: str
    total_gb: float
    free_gb: float | None = None
    compute_capability: str | None = None


@dataclass
class GpuReport:
    """What NVML saw: the GPUs, the driver, or the plain-words reason there are none."""

    gpus: list[GpuInfo] = field(default_factory=list)
    driver: str | None = None
    cuda_driver_version: str | None = None
    error: str | None = None

    @property
    def found(self) -> bool:
        return bool(self.gpus)

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "count": len(self.gpus),
            "driver": self.driver,
            "cuda_driver_version": self.cuda_driver_version,
            "gpus": [asdict(g) for g in self.gpus],
            "error": self.error,
        }


@dataclass(frozen=True)
class CardPreset:
    key: str
    name: str
    memory_gb: float
    aliases: tuple[str, ...] = ()
    bf16: bool = True


# Marketed memory in GB (1e9 bytes) as reported usable by NVML is a little less; planning uses the
# marketed figure minus the CUDA context, which the estimator accounts for separately.
CARD_PRESETS: tuple[CardPreset, ...] = (
    CardPreset("3060", "NVIDIA GeForce RTX 3060 12GB", 12.0, ("rtx3060",)),
    CardPreset("3090", "NVIDIA GeForce RTX 3090", 24.0, ("rtx3090",)),
    CardPreset("4090", "NVIDIA GeForce RTX 4090", 24.0, ("rtx4090",)),
    CardPreset("a10g", "NVIDIA A10G", 24.0, ("a10",)),
    CardPreset("l4", "NVIDIA L4", 24.0),
    CardPreset("a6000", "NVIDIA RTX A6000", 48.0, ("rtxa6000",)),
    CardPreset("l40s", "NVIDIA L40S", 48.0),
    CardPreset("a100-40", "NVIDIA A100 40GB", 40.0, ("a100_40", "a10040")),
    CardPreset("a100-80", "NVIDIA A100 80GB", 80.0, ("a100", "a100_80", "a10080")),
    CardPreset("h100", "NVIDIA H100 80GB", 80.0, ("h100-80",)),
    CardPreset("h200", "NVIDIA H200 141GB", 141.0),
)
DEFAULT_CARD = "3090"


def _nvml():
    import pynvml  # nvidia-ml-py

    return pynvml


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect_gpus() -> GpuReport:
    """Count, name, total/free memory and driver of NVIDIA GPUs; never raises."""
    try:
        nvml = _nvml()
    except ImportError:
        return GpuReport(error="nvidia-ml-py is not installed, so GPUs cannot be detected (pip install nvidia-ml-py)")
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return GpuReport(error=f"no NVIDIA GPU / driver found ({_text(exc) or type(exc).__name__})")
    report = GpuReport()
    try:
        report.driver = _text(nvml.nvmlSystemGetDriverVersion())
        try:
            v = int(nvml.nvmlSystemGetCudaDriverVersion())
            report.cuda_driver_version = f"{v // 1000}.{(v % 1000) // 10}"
        except Exception:
            pass
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            mem = nvml.nvmlDeviceGetMemoryInfo(handle)
            try:
                major, minor = nvml.nvmlDeviceGetCudaComputeCapability(handle)
                cc = f"{major}.{minor}"
            except Exception:
                cc = None
            report.gpus.append(
                GpuInfo(i, _text(nvml.nvmlDeviceGetName(handle)), round(mem.total / GB, 2), round(mem.free / GB, 2), cc)
            )
        if not report.gpus:
            report.error = "the NVIDIA driver is loaded but reports no GPUs"
    except Exception as exc:
        report.error = f"NVML failed while listing GPUs: {_text(exc)}"
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:
            pass
    return report


class TelemetrySampler:
    """Per-GPU utilization, memory, temperature and power. Initializes NVML once and keeps handles, so
    a poll every second costs a few NVML calls; every failure becomes a missing field, never an error."""

    def __init__(self):
        self._lock = threading.Lock()
        self._handles: list[Any] | None = None
        self._names: list[str] = []
        self._nvml = None

    def _ensure(self) -> bool:
        if self._handles is not None:
            return bool(self._handles)
        self._handles = []
        try:
            nvml = _nvml()
            nvml.nvmlInit()
            self._nvml = nvml
            for i in range(nvml.nvmlDeviceGetCount()):
                h = nvml.nvmlDeviceGetHandleByIndex(i)
                self._handles.append(h)
                self._names.append(_text(nvml.nvmlDeviceGetName(h)))
        except Exception:
            self._handles = []
        return bool(self._handles)

    def sample(self) -> list[dict[str, Any]]:
        with self._lock:
            if not self._ensure():
                return []
            nvml = self._nvml
            out = []
            for i, h in enumerate(self._handles):
                row: dict[str, Any] = {"index": i, "name": self._names[i]}
                for key, fn in (
                    ("util", lambda: nvml.nvmlDeviceGetUtilizationRates(h).gpu),
                    ("mem_used_gb", lambda: round(nvml.nvmlDeviceGetMemoryInfo(h).used / GB, 2)),
                    ("mem_total_gb", lambda: round(nvml.nvmlDeviceGetMemoryInfo(h).total / GB, 2)),
                    ("temp_c", lambda: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)),
                    ("power_w", lambda: round(nvml.nvmlDeviceGetPowerUsage(h) / 1000, 1)),
                ):
                    try:
                        row[key] = fn()
                    except Exception:
                        row[key] = None
                out.append(row)
            return out


_SAMPLER = TelemetrySampler()


def sample_telemetry() -> list[dict[str, Any]]:
    """One telemetry row per GPU (index, name, util, mem_used_gb, mem_total_gb, temp_c, power_w);
    an empty list without a GPU. Never raises."""
    try:
        return _SAMPLER.sample()
    except Exception:
        return []


def _norm(key: str) -> str:
    return re.sub(r"[\s_]+", "", key.strip().lower()).replace("rtx", "").replace("nvidia", "").replace("geforce", "")


def find_preset(spec: str) -> CardPreset | None:
    key = _norm(spec)
    for preset in CARD_PRESETS:
        if key == _norm(preset.key) or key in {_norm(a) for a in preset.aliases}:
            return preset
    return None


def resolve_gpu(spec: str | None = "auto", report: GpuReport | None = None) -> dict[str, Any]:
    """The card to plan for: `auto` (the detected GPU, else the RTX 3090 reference), a preset name
    (3090, 4090, a100-80, h100, ...), or a size like `24GB`. Returns name, memory_gb, source."""
    spec = (spec or "auto").strip()
    if spec.lower() == "auto":
        report = report or detect_gpus()
        if report.found:
            gpu = report.gpus[0]
            return {"name": gpu.name, "memory_gb": gpu.total_gb, "source": "detected", "count": len(report.gpus)}
        preset = find_preset(DEFAULT_CARD)
        return {"name": preset.name, "memory_gb": preset.memory_gb, "source": "default target (no GPU detected)",
                "count": 1, "note": report.error}
    preset = find_preset(spec)
    if preset is not None:
        return {"name": preset.name, "memory_gb": preset.memory_gb, "source": "preset", "count": 1}
    size = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(gb|g|gib)", spec.lower())
    if size:
        gb = float(size.group(1)) * (1.073741824 if size.group(2) == "gib" else 1.0)
        return {"name": f"custom {size.group(1)} GB card", "memory_gb": round(gb, 2), "source": "custom size", "count": 1}
    known = ", ".join(p.key for p in CARD_PRESETS)
    raise TunewizError(f"--gpu {spec!r}: unknown card; use auto, a size like 24GB, or one of: {known}")
