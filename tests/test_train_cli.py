"""The training CLI end to end in subprocesses: a detached trainer outlives the terminal that started
it, `kill -9` + `tunewiz resume` continues from the last checkpoint, stop/runs/logs, bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from core.events import read_events
from core.runs import find_run, send_command
from tests.conftest import REPO_ROOT, run_cli

pytestmark = pytest.mark.slow


def write_config(path: Path, config) -> Path:
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def wait_for(predicate, timeout=240, interval=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out waiting")


def types_of(run):
    return [e["type"] for e in read_events(run.events)]


def steps_of(run):
    return [e["step"] for e in read_events(run.events) if e["type"] == "step"]


def test_trainer_survives_its_terminal_and_finishes(train_config, tmp_path, tiny_model_dir):
    cfg = write_config(tmp_path / "cfg.yaml", train_config(max_steps=40, save_steps=10, eval_steps=10))
    runs = tmp_path / "runs"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    # The "terminal": a foreground `tunewiz train` in its own session, killed with its whole group.
    term = subprocess.Popen([sys.executable, "-m", "tunewiz", "train", str(cfg), "--runs-dir", str(runs)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env, text=True)
    run = wait_for(lambda: next((r for r in runs.iterdir() if (r / "events.jsonl").exists()), None) if runs.exists() else None)
    from core.runs import RunDir

    run = RunDir(run)
    wait_for(lambda: "run_started" in types_of(run))
    os.killpg(term.pid, signal.SIGHUP)
    os.killpg(term.pid, signal.SIGKILL)
    term.wait(10)
    wait_for(lambda: "finished" in types_of(run) or "failed" in types_of(run))
    assert types_of(run)[-1] == "finished"
    assert steps_of(run) == list(range(1, 41))

    listed = run_cli("runs", "--json", "--runs-dir", str(runs))
    rows = json.loads(listed.stdout)
    assert rows[0]["run_id"] == run.run_id and rows[0]["status"] == "finished" and rows[0]["step"] == 40
    assert "finished" in run_cli("runs", "--runs-dir", str(runs)).stdout
    logs = run_cli("logs", run.run_id[-4:], "--runs-dir", str(runs))
    assert "step 40/40" in logs.stdout and "finished at step 40" in logs.stdout

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run.adapter)


def test_kill_9_then_resume_continues_from_checkpoint(train_config, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", train_config(max_steps=16, save_steps=4, eval_steps=8))
    runs = tmp_path / "runs"
    out = run_cli("train", str(cfg), "--detach", "--json", "--runs-dir", str(runs))
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    run = find_run(runs, info["run_id"])
    # Pause right after the first checkpoint so the kill lands mid-run, deterministically.
    wait_for(lambda: "checkpoint" in types_of(run))
    send_command(run, "pause")
    wait_for(lambda: "paused" in types_of(run))
    os.kill(info["pid"], signal.SIGKILL)
    wait_for(lambda: json.loads(run_cli("runs", "--json", "--runs-dir", str(runs)).stdout)[0]["status"] == "interrupted", 30, 0.5)
    kept = [e["step"] for e in read_events(run.events) if e["type"] == "checkpoint"][-1]
    assert kept < 16
    res = run_cli("resume", run.run_id, "--runs-dir", str(runs))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "finished at step 16" in res.stdout
    started = [e for e in read_events(run.events) if e["type"] == "run_started"]
    assert started[-1]["resumed_from"] == kept
    events = read_events(run.events)
    second = max(i for i, e in enumerate(events) if e["type"] == "run_started")
    before = [e["step"] for e in events[:second] if e["type"] == "step"]
    after = [e["step"] for e in events[second:] if e["type"] == "step"]
    assert before == list(range(1, len(before) + 1)) and len(before) >= kept
    assert after == list(range(kept + 1, 17))  # the continuation starts right after the last checkpoint


def test_stop_saves_a_checkpoint_and_stops(train_config, tmp_path):
    cfg = write_config(tmp_path / "cfg.yaml", train_config(max_steps=200, save_steps=1000, eval_steps=1000))
    runs = tmp_path / "runs"
    run_id = run_cli("train", str(cfg), "--detach", "--runs-dir", str(runs)).stdout.strip()
    run = find_run(runs, run_id)
    wait_for(lambda: "step" in types_of(run))
    stop = run_cli("stop", run_id, "--runs-dir", str(runs))
    assert stop.returncode == 0, stop.stderr
    assert "stopped at step" in stop.stdout and "checkpoint at step" in stop.stdout
    stopped = [e for e in read_events(run.events) if e["type"] == "stopped"][0]
    assert stopped["reason"] == "requested" and Path(stopped["checkpoint"]).exists()
    assert run.read_state()["status"] == "stopped"


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("learning_rate: fast\n")
    out = run_cli("train", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert out.returncode == 2
    assert "learning_rate" in out.stderr and "Traceback" not in out.stderr
    missing = run_cli("train", "--set", "train_file=nope.jsonl", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert missing.returncode == 2 and "nope.jsonl" in missing.stderr
    none = run_cli("logs", "--runs-dir", str(tmp_path / "empty"))
    assert none.returncode == 2 and "no runs" in none.stderr
