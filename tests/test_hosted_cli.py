"""`tunewiz hosted ...` in a fresh interpreter, against the fake API server running in this process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from core.hosted.fake import FakeProviderServer
from tests.conftest import REPO_ROOT, run_cli

KEY = "sk-cli-test-KEY-abcdef0123456789"


@pytest.fixture
def fake():
    with FakeProviderServer(api_key=KEY) as server:
        yield server


def test_estimate_json_matches_hand_calculation(tmp_path):
    row = {"messages": [{"role": "user", "content": "a" * 40}, {"role": "assistant", "content": "b" * 8}]}
    data = tmp_path / "t.jsonl"
    data.write_text((json.dumps(row) + "\n") * 20, encoding="utf-8")
    proc = run_cli("hosted", "estimate", "--provider", "openai", str(data), "--epochs", "4", "--price", "2.5", "--json")
    assert proc.returncode == 0, proc.stderr
    est = json.loads(proc.stdout)
    # 25 tokens per example (see test_hosted_checks) x 20 examples x 4 epochs = 2000 tokens at $2.50 / 1M
    assert (est["billable_tokens"], est["epochs"], est["cost_usd"]) == (2000, 4, 0.005)


def test_check_lists_problems_with_line_numbers_and_fails(tmp_path):
    data = tmp_path / "t.jsonl"
    data.write_text('{"text": "a"}\n{"prompt": "p", "completion": "c"}\n', encoding="utf-8")
    proc = run_cli("hosted", "check", "--provider", "together", str(data))
    assert proc.returncode == 1
    assert "line 2: prompt:" in proc.stdout and "[mixed_formats]" in proc.stdout
    proc = run_cli("hosted", "check", "--provider", "together", str(data), "--json")
    report = json.loads(proc.stdout)
    assert report["ok"] is False and report["files"][0]["errors"][0]["line"] == 2


def test_start_needs_confirmation_without_a_terminal(chat_jsonl, tmp_path):
    proc = run_cli("hosted", "start", "--provider", "openai", str(chat_jsonl), "--runs-dir", str(tmp_path / "runs"),
                   env={"OPENAI_API_KEY": KEY})
    assert proc.returncode == 2 and "--yes" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("provider", ["openai", "together"])
def test_start_runs_to_the_model_id_and_runs_folder_is_clean(fake, provider, chat_jsonl, tmp_path):
    runs = tmp_path / "runs"
    proc = run_cli("hosted", "start", "--provider", provider, str(chat_jsonl), "--yes", "--runs-dir", str(runs),
                   "--base-url", fake.base_url(provider), "--poll-interval", "0.02", "--suffix", "cli",
                   env={f"{provider.upper()}_API_KEY": KEY}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "step 6/6" in proc.stdout and "finished: fine-tuned model" in proc.stdout
    (run_dir,) = runs.iterdir()
    state = json.loads((run_dir / "state.json").read_text())
    assert "cli" in state["fine_tuned_model"]
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_start_detach_json_then_cancel(fake, chat_jsonl, tmp_path):
    fake.scenario["steps"] = 100_000
    runs = tmp_path / "runs"
    env = {"OPENAI_API_KEY": KEY}
    proc = run_cli("hosted", "start", "--provider", "openai", str(chat_jsonl), "--yes", "--detach", "--json",
                   "--runs-dir", str(runs), "--base-url", fake.base_url("openai"), "--poll-interval", "0.02", env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["job_id"] in fake.jobs and out["estimate"]["epochs"] == 3
    proc = run_cli("hosted", "cancel", out["run_id"], "--runs-dir", str(runs), env=env)
    assert proc.returncode == 0 and "cancel sent" in proc.stdout
    from core.runs import RunDir
    from tests.test_hosted_runs import wait_for

    run = RunDir(runs / out["run_id"])
    wait_for(lambda: run.view().status == "stopped")
    assert fake.jobs[out["job_id"]].status == "cancelled"


def test_cli_parser_loads_no_sdk():
    code = ("import sys; from tunewiz.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('openai', 'together', 'httpx', 'httpx2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tunewiz_train_routes_a_hosted_backend_and_stop_cancels(tmp_path, fake):
    """`tunewiz train` with backend openai runs the hosted job like a local run: same run folder, same
    events, `runs` lists it, and `stop` on a finished hosted run says so instead of touching a trainer."""
    from core.runs import list_runs
    from core.toy import make_chat_examples, write_jsonl

    write_jsonl(tmp_path / "train.jsonl", make_chat_examples(20))
    runs = tmp_path / "runs"
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.base_url("openai"), "TUNEWIZ_HOSTED_POLL_INTERVAL": "0.02"}
    proc = run_cli("train", "--set", "backend=openai", "--set", "val_file=", "--set", "epochs=2",
                   "--runs-dir", str(runs), cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    (run,) = list_runs(runs)
    view = run.view()
    assert view.status == "finished" and view.backend == "openai" and view.output.startswith("ft:")
    assert view.losses, "step events with loss reach the run's log"
    listed = run_cli("runs", "--json", "--runs-dir", str(runs), cwd=tmp_path)
    assert run.run_id in listed.stdout
    stop = run_cli("stop", run.run_id, "--runs-dir", str(runs), cwd=tmp_path, env=env)
    assert stop.returncode == 0 and "already ended" in stop.stderr
    for path in run.path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="ignore"), path
