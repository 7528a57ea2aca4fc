"""Regression guard for the accuracy benchmark: held-out rows stay at or below a 10% median error,
and tunewiz beats the guide's tables and LLaMA-Factory's rule of thumb on the same rows."""

import statistics
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
vram_accuracy = pytest.importorskip("vram_accuracy")
pytestmark = pytest.mark.skipif(not vram_accuracy.DEFAULT_CSV.is_file(), reason="reference CSV not present")


def test_held_out_median_and_baselines():
    kept, dropped = vram_accuracy.rows_for_bench(vram_accuracy.DEFAULT_CSV)
    held = kept[1::2]
    assert len(held) >= 40 and len(dropped) <= 6
    ours = statistics.median(vram_accuracy.errors(held, vram_accuracy.predict))
    guide = statistics.median(vram_accuracy.errors(held, vram_accuracy.guide_estimate))
    rule = statistics.median(vram_accuracy.errors(held, vram_accuracy.llamafactory_estimate))
    assert ours <= 10.0
    within = sum(e <= 15 for e in vram_accuracy.errors(held, vram_accuracy.predict)) / len(held)
    assert within >= 0.80  # the second goal, on the same held-out rows
    assert ours < guide / 3 and ours < rule / 3


def test_units_and_metrics_are_read_from_notes():
    row = {"notes": "measured; metric=torch.cuda.max_memory_reserved; unit=GiB (/1024^3)", "measured_peak_gb": "1"}
    assert vram_accuracy.measured_gb(row) == pytest.approx(1.073741824)
    assert vram_accuracy._metric(row["notes"]) == "reserved"
    assert vram_accuracy._metric("measured; metric=torch.cuda.max_memory_allocated") == "allocated"
    assert vram_accuracy._metric("measured-boundary; the value is the VRAM budget") == "nvidia-smi"
