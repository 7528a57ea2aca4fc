"""`tunewiz doctor` on a machine without a GPU reports it plainly and never crashes."""

import json

import pytest

from core.doctor import run_checks
from tests.conftest import run_cli


def test_doctor_json_on_this_machine(tmp_path):
    proc = run_cli("doctor", "--json", cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    data = json.loads(proc.stdout)
    names = [c["name"] for c in data["checks"]]
    assert names == ["python", "gpu", "torch", "hf-stack", "bitsandbytes", "unsloth", "disk"]
    gpu = next(c for c in data["checks"] if c["name"] == "gpu")
    if not data["gpus"]["found"]:
        assert gpu["status"] == "warn" and "no NVIDIA GPU / driver found" in gpu["detail"]
        assert data["backend"] == "hf"
        unsloth = next(c for c in data["checks"] if c["name"] == "unsloth")
        assert "CUDA" in unsloth["detail"]
    assert data["ok"] == (proc.returncode == 0)


def test_doctor_text_says_what_to_fix(tmp_path):
    proc = run_cli("doctor", cwd=tmp_path)
    assert "[ok  ] python" in proc.stdout
    assert "backend:" in proc.stdout and "Traceback" not in proc.stderr


def test_doctor_fails_on_missing_stack(monkeypatch, tmp_path):
    import core.doctor as doctor

    real = doctor._version
    monkeypatch.setattr(doctor, "_version", lambda name: None if name == "trl" else real(name))
    result = run_checks(tmp_path)
    stack = next(c for c in result["checks"] if c["name"] == "hf-stack")
    assert stack["status"] == "fail" and "pip install trl" in stack["fix"]
    assert result["ok"] is False


@pytest.mark.slow
def test_doctor_smoke_trains_through_the_engine(tmp_path):
    proc = run_cli("doctor", "--smoke", "--json", cwd=tmp_path, timeout=600)
    data = json.loads(proc.stdout)
    smoke = next(c for c in data["checks"] if c["name"] == "smoke")
    assert smoke["status"] == "ok", smoke
    assert data["smoke"]["steps"] == 8 and data["smoke"]["device"] in ("cpu", "cuda")
    assert data["smoke"]["final_loss"] is not None and "trained a tiny model 8 steps" in smoke["detail"]
