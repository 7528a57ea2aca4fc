"""Two trainer processes on CPU under `accelerate launch` (gloo): the run finishes and only rank 0
writes events."""

import time

import pytest

from core.events import read_events
from core.train.launch import start_run, trainer_alive

pytestmark = pytest.mark.slow


def test_two_process_cpu_run(train_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWIZ_ALLOW_CPU_DDP", "1")
    run = start_run(train_config(gpus=2, max_steps=6, eval_steps=3, save_steps=3), runs_dir=tmp_path / "runs")
    deadline = time.time() + 300
    while trainer_alive(run) and time.time() < deadline:
        time.sleep(0.5)
    events = read_events(run.events)
    assert events[-1]["type"] == "finished", run.log.read_text()[-2000:]
    started = [e for e in events if e["type"] == "run_started"]
    assert len(started) == 1 and started[0]["world_size"] == 2  # rank 1 wrote nothing
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 7))
    # 48 examples / (batch 4 x 2 processes) = 6 steps per epoch
    assert abs(steps[0]["epoch"] - 1 / 6) < 1e-3
    assert (run.adapter / "adapter_model.safetensors").exists()


def test_several_gpus_without_cuda_is_a_clear_error(train_config, tmp_path, monkeypatch):
    from core.errors import TunewizError

    monkeypatch.delenv("TUNEWIZ_ALLOW_CPU_DDP", raising=False)
    with pytest.raises(TunewizError, match="gpus: 2"):
        start_run(train_config(gpus=2), runs_dir=tmp_path / "runs")
