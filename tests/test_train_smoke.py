"""`run_smoke` (doctor --smoke), backend selection messages, the launch API's project record, and
that the CLI start-up path imports no heavy library."""

import subprocess
import sys

import pytest

from core.config import TrainConfig
from core.errors import TunewizError
from core.train.backends import available_backends, resolve_backend_name


@pytest.mark.slow
def test_run_smoke_trains_a_few_steps(tmp_path):
    from core.train.smoke import run_smoke

    result = run_smoke(tmp_path / "smoke", steps=4)
    assert result["ok"], result
    assert result["device"] == "cpu" and result["backend"] == "hf" and result["steps"] == 4
    assert result["final_loss"] < result["first_loss"] and result["seconds"] > 0


def test_backend_selection_without_cuda():
    assert "hf" in available_backends()
    assert resolve_backend_name(TrainConfig(backend="auto")) in available_backends()
    assert resolve_backend_name(TrainConfig(backend="hf")) == "hf"
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(TunewizError, match="CUDA"):
            resolve_backend_name(TrainConfig(backend="unsloth"))


def test_unsloth_missing_names_the_install_command(monkeypatch):
    import core.train.backends as backends

    monkeypatch.setattr(backends, "cuda_available", lambda: True)
    monkeypatch.setattr(backends, "unsloth_installed", lambda: False)
    with pytest.raises(TunewizError) as err:
        resolve_backend_name(TrainConfig(backend="unsloth"))
    assert 'pip install ".[unsloth]"' in str(err.value)
    assert resolve_backend_name(TrainConfig(backend="auto")) == "hf"


def test_start_run_records_active_run_and_freezes_paths(project_dir, train_config, monkeypatch):
    import core.train.launch as launch
    from core.project import Project

    monkeypatch.setattr(launch, "_spawn", lambda run, config, resume: type("P", (), {"pid": 999999})())
    project = Project(project_dir)
    project.save()
    cfg = train_config()
    run = launch.start_run(cfg, runs_dir=project.runs_dir, project=project)
    assert Project(project_dir).state.train["active_run"] == run.run_id
    state = run.read_state()
    assert state["status"] == "starting" and state["pid"] == 999999
    assert run.events.exists() and run.config_file.exists() and run.control.is_dir()
    assert launch.run_status(run) == "interrupted"  # pid 999999 is not a live trainer


def test_cli_startup_imports_no_heavy_library():
    code = ("import sys; from tunewiz.cli.main import build_parser; build_parser(); "
            "import core.train, core.train.launch, core.train.follow, core.train.engine, core.train.alerts; "
            "heavy = [m for m in ('torch','transformers','peft','trl','datasets','bitsandbytes','unsloth') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
