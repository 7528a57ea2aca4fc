"""The typed config and the project file: defaults from the guide, clear errors, atomic persistence."""

import pytest

from core.config import TrainConfig, parse_set_overrides, read_yaml_config
from core.errors import ConfigError
from core.project import Project


def test_defaults_are_the_guides_3090_starting_point():
    c = TrainConfig()
    assert (c.learning_rate, c.batch_size, c.grad_accum, c.epochs, c.lora_r, c.lora_alpha, c.max_seq_length) == (
        2e-4, 2, 4, 3, 16, 16, 2048)
    assert all(TrainConfig.help_for(name) for name in TrainConfig.model_fields)


def test_bad_config_names_file_field_and_allowed(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("method: qlorra\nbatch_size: 0\n")
    with pytest.raises(ConfigError) as err:
        read_yaml_config(path)
    text = str(err.value)
    assert str(path) in text
    assert "method" in text and "allowed: full, lora, qlora" in text
    assert "batch_size" in text
    path.write_text("lr: 1\n")
    with pytest.raises(ConfigError, match="lr: unknown field"):
        read_yaml_config(path)
    path.write_text("method: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml_config(path)


def test_set_overrides_parse_yaml_scalars():
    assert parse_set_overrides(["learning_rate=1e-4", "early_stop=true", "method=lora"]) == {
        "learning_rate": 1e-4, "early_stop": True, "method": "lora"}
    with pytest.raises(ConfigError, match="unknown field"):
        parse_set_overrides(["nope=1"])


def test_project_roundtrip_and_checklist(tmp_path):
    project = Project(tmp_path)
    assert project.state.step == "decide" and not (tmp_path / "tunewiz.yaml").exists()
    project.state.step = "decide"
    project.state.config.batch_size = 4
    project.state.tick("prompting_tried", "answered yes")
    project.state.data["path"] = "x.jsonl"
    project.save()
    again = Project(tmp_path)
    assert again.state.config.batch_size == 4
    assert again.state.is_ticked("prompting_tried") and again.state.data == {"path": "x.jsonl"}
    assert not list(tmp_path.glob(".tunewiz.*.tmp"))
    with pytest.raises(KeyError):
        again.state.tick("not_an_item")


def test_bad_project_file_is_a_clear_error(tmp_path):
    (tmp_path / "tunewiz.yaml").write_text("step: decide\nconfig:\n  optimizer: adam\n")
    with pytest.raises(ConfigError) as err:
        Project(tmp_path)
    assert "config.optimizer" in str(err.value) and "adamw_8bit" in str(err.value)
    (tmp_path / "tunewiz.yaml").write_text("step: flying\n")
    with pytest.raises(ConfigError, match="allowed: decide, data"):
        Project(tmp_path)


def test_cli_reports_bad_project_file_without_traceback(tmp_path):
    from tests.conftest import run_cli

    (tmp_path / "tunewiz.yaml").write_text("config:\n  method: qlorra\n")
    proc = run_cli("ask", "--answers", "/dev/null", "--save", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_runs_dir_env_override(tmp_path, monkeypatch):
    project = Project(tmp_path)
    assert project.runs_dir == tmp_path / "runs"
    monkeypatch.setenv("TUNEWIZ_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert project.runs_dir == tmp_path / "elsewhere"
