"""`tunewiz plan`: flags, the single-estimate JSON and the table JSON."""

import argparse
import importlib.util
import json

import pytest

from core.errors import TunewizError
from core.vram import BREAKDOWN_KEYS
from tunewiz.cli import plan


def _run(capsys, *argv, project=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", default=project)
    sub = parser.add_subparsers(dest="command")
    plan.register(sub)
    args = parser.parse_args(["plan", *argv])
    rc = args.func(args)
    return rc, capsys.readouterr().out


def test_single_estimate_json_shape(capsys, project_dir):
    rc, out = _run(capsys, "--gpu", "3090", "--model", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "--method", "qlora", "--json")
    assert rc == 0
    data = json.loads(out)
    assert isinstance(data["total_gb"], float)
    assert list(data["breakdown"]) == list(BREAKDOWN_KEYS)
    assert data["total_gb"] == pytest.approx(sum(data["breakdown"].values()), abs=0.05)
    assert data["verdict"] in ("comfortable", "tight", "does not fit")
    assert data["gpu"]["name"] == "NVIDIA GeForce RTX 3090" and data["gpu"]["memory_gb"] == 24.0
    assert data["settings"]["batch_size"] == 2 and data["settings"]["seq_len"] == 2048
    assert data["max_batch"] >= 1 and data["starting_point"]["learning_rate"] == 2e-4


def test_flags_change_the_estimate(capsys, project_dir):
    _, a = _run(capsys, "--gpu", "24GB", "--model", "Qwen/Qwen2.5-7B", "--method", "lora", "--json", "--batch", "1",
                "--seq", "1024", "--backend", "hf", "--grad-checkpointing", "hf", "--optimizer", "adamw_torch")
    _, b = _run(capsys, "--gpu", "24GB", "--model", "Qwen/Qwen2.5-7B", "--method", "lora", "--json", "--batch", "4",
                "--seq", "4096", "--backend", "hf", "--grad-checkpointing", "none", "--optimizer", "adamw_torch",
                "--lora-r", "64", "--targets", "attn")
    a, b = json.loads(a), json.loads(b)
    assert b["total_gb"] > a["total_gb"]
    assert b["settings"]["lora_r"] == 64 and b["settings"]["targets"] == "attn"
    assert a["gpu"]["name"] == "custom 24 GB card"


def test_table_json_is_a_list_of_rows(capsys, project_dir):
    rc, out = _run(capsys, "--gpu", "4090", "--json")
    rows = json.loads(out)
    assert rc == 0 and isinstance(rows, list) and len(rows) >= 30
    for row in rows:
        assert {"model", "method", "total_gb", "breakdown", "verdict", "gpu", "max_batch", "max_seq"} <= set(row)
        assert list(row["breakdown"]) == list(BREAKDOWN_KEYS)
    assert {r["method"] for r in rows} == {"full", "lora", "qlora"}


def test_text_output_and_data_step_seq(capsys, project_dir):
    from core.project import Project

    project = Project(project_dir)
    project.state.data["recommended_max_seq_length"] = 1536
    project.save()
    rc, out = _run(capsys, "--gpu", "3090", "--model", "meta-llama/Llama-3.2-3B", "--method", "qlora", project=str(project_dir))
    assert rc == 0
    assert "seq 1536" in out and "Data step" in out and "total" in out and "% of 24 GB" in out


def test_local_folder_model(capsys, tiny_model_dir, project_dir):
    rc, out = _run(capsys, "--gpu", "3060", "--model", str(tiny_model_dir), "--method", "full", "--json")
    data = json.loads(out)
    assert data["verdict"] == "comfortable" and data["model"] == str(tiny_model_dir)


@pytest.mark.parametrize("argv, message", [
    (["--gpu", "banana"], "unknown card"),
    (["--model", "Qwen/Qwen2.5-7B", "--method", "qlora", "--bits", "16"], "needs --bits 4 or 8"),
    (["--batch", "0"], "at least 1"),
])
def test_bad_input_is_a_user_error(capsys, project_dir, argv, message):
    with pytest.raises(TunewizError, match=message):
        _run(capsys, *argv)


@pytest.mark.skipif(importlib.util.find_spec("tunewiz.cli.ask") is None or importlib.util.find_spec("tunewiz.cli.doctor") is None,
                    reason="the other subcommands in COMMANDS are not on this branch yet")
def test_subprocess_plan_3090(project_dir):
    from tests.conftest import run_cli

    proc = run_cli("plan", "--gpu", "3090", "--model", "meta-llama/Llama-3.1-8B", "--method", "qlora", "--json", cwd=project_dir)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["gpu"]["memory_gb"] == 24.0
    bad = run_cli("plan", "--gpu", "banana", cwd=project_dir)
    assert bad.returncode != 0 and "unknown card" in bad.stderr and "Traceback" not in bad.stderr
