"""`tunewiz demo`: project preparation and the headless pipeline (on the tiny model here; CI runs the
real SmolLM2 demo after the tests)."""

import json

import pytest

from core.checklist import CHECKLIST_IDS
from core.demo import DEMO_ANSWERS, demo_config, prepare_demo_project, run_headless
from core.decide import recommend
from core.project import Project
from tests.conftest import run_cli


def test_demo_settings_are_cpu_sized_and_advice_is_fine_tuning():
    config = demo_config("/m", max_steps=40)
    assert (config.max_seq_length, config.batch_size, config.max_steps, config.method, config.backend) == (
        256, 2, 40, "lora", "hf")
    assert recommend(DEMO_ANSWERS).recommendation == "fine_tuning"


def test_prepare_is_idempotent_and_keeps_the_users_choices(tmp_path, tiny_model_dir):
    project = prepare_demo_project(tmp_path / "demo", model=str(tiny_model_dir), echo=lambda _: None)
    state = project.state
    assert state.config.base_model == str(tiny_model_dir.resolve())
    assert state.data["path"].endswith("data/tickets.jsonl") and (tmp_path / "demo/data/tickets-messy.jsonl").exists()
    state.decide.answers = {"prompting_tried": "no"}
    project.save()
    again = prepare_demo_project(tmp_path / "demo", model=str(tiny_model_dir), echo=lambda _: None)
    assert again.state.decide.answers == {"prompting_tried": "no"}


@pytest.mark.slow
def test_headless_pipeline_runs_every_stage(tmp_path, tiny_model_dir):
    lines = []
    summary = run_headless(tmp_path / "demo", max_steps=6, eval_n=3, model=str(tiny_model_dir), echo=lines.append)
    assert summary["data"] == {"examples": 600, "train": 540, "val": 60}
    messy = summary["messy_check"]
    assert messy["errors"] >= 2 and "invalid_json" in " ".join(messy["codes"])
    assert summary["train"]["steps"] == 6 and summary["train"]["final_loss"] is not None
    assert set(summary["eval"]["base"]) == {"json_valid", "field_match", "exact_match"}
    gguf = summary["export"]["path"]
    assert gguf.endswith("q8_0.gguf") and summary["export"]["verify"]["ok"]
    assert summary["export"]["modelfile"]
    state = Project(tmp_path / "demo").state
    ticked = {i for i in CHECKLIST_IDS if state.is_ticked(i)}
    assert ticked >= {"data_formatted", "split_created", "model_selected", "vram_calculated", "no_oom",
                      "evaluated", "exported"}
    assert any(line.startswith("3/5 train") for line in lines)


def test_demo_cli_rejects_bad_steps(tmp_path):
    proc = run_cli("demo", "--headless", "--max-steps", "0", cwd=tmp_path)
    assert proc.returncode == 2 and "--max-steps must be at least 1" in proc.stderr
