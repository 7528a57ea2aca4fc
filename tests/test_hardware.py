"""GPU detection and card presets: never raise without a GPU; presets beat bare numbers."""

import pytest

from core.errors import TunewizError
from core.hardware import GpuReport, GpuInfo, detect_gpus, resolve_gpu, sample_telemetry


def test_detect_gpus_never_raises_and_explains():
    report = detect_gpus()
    if not report.found:
        assert report.error and ("NVIDIA" in report.error or "nvidia-ml-py" in report.error)
        assert report.to_json()["count"] == 0


def test_sample_telemetry_without_gpu_is_empty_list():
    rows = sample_telemetry()
    assert isinstance(rows, list)
    for row in rows:
        assert {"index", "name", "util", "mem_used_gb", "mem_total_gb", "temp_c", "power_w"} <= set(row)


@pytest.mark.parametrize(
    "spec, name, gb",
    [("3090", "NVIDIA GeForce RTX 3090", 24.0), ("RTX 4090", "NVIDIA GeForce RTX 4090", 24.0),
     ("a100-80", "NVIDIA A100 80GB", 80.0), ("a100-40", "NVIDIA A100 40GB", 40.0), ("h200", "NVIDIA H200 141GB", 141.0),
     ("3060", "NVIDIA GeForce RTX 3060 12GB", 12.0), ("l40s", "NVIDIA L40S", 48.0)],
)
def test_presets(spec, name, gb):
    card = resolve_gpu(spec)
    assert (card["name"], card["memory_gb"], card["source"]) == (name, gb, "preset")


def test_custom_size_and_unknown():
    assert resolve_gpu("16GB")["memory_gb"] == 16.0
    assert resolve_gpu("20 GiB")["memory_gb"] == pytest.approx(21.47, abs=0.01)
    with pytest.raises(TunewizError, match="unknown card.*3090"):
        resolve_gpu("potato")


def test_auto_uses_detected_gpu_else_3090():
    detected = GpuReport(gpus=[GpuInfo(0, "NVIDIA A10G", 23.7, 23.0)], driver="550")
    assert resolve_gpu("auto", detected) == {"name": "NVIDIA A10G", "memory_gb": 23.7, "source": "detected", "count": 1}
    none = resolve_gpu("auto", GpuReport(error="no NVIDIA GPU / driver found"))
    assert none["memory_gb"] == 24.0 and "no GPU" in none["source"]
