"""Hosted runs end to end against the local fake API server, through the real `openai` and `together`
SDK clients (pointed at 127.0.0.1 with base_url): success, provider failure, cancellation, 429/5xx and a
dropped connection with retry, a follower killed and re-attached, and the key nowhere in the run folder."""

from __future__ import annotations

import os
import signal
import time

import pytest

from core.errors import TunewizError
from core.events import read_events
from core.hosted import cancel_run, follow_run, is_hosted_run, start_hosted_run
from core.hosted.api import Backoff
from core.hosted.fake import FakeProviderServer
from core.hosted.follower import read_hosted

KEY = "sk-tunewiz-test-KEY-0123456789abcdef"
PROVIDERS = ["openai", "together"]
FAST = dict(poll_interval=0.02, backoff=Backoff(base=0.01, maximum=0.05, attempts=None), tokenizer="approx")


@pytest.fixture
def fake():
    with FakeProviderServer(api_key=KEY) as server:
        yield server


def start(fake, provider, data, tmp_path, *, detach=False, **kwargs):
    return start_hosted_run(provider, data, runs_dir=tmp_path / "runs", base_url=fake.base_url(provider),
                            detach=detach, api_key=KEY, **FAST, **kwargs)


def wait_for(predicate, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def types(run):
    return [e["type"] for e in read_events(run.events)]


def assert_key_nowhere(run):
    for path in run.path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), f"API key found in {path}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_success_records_loss_and_model_id(fake, provider, chat_jsonl, tmp_path):
    run = start(fake, provider, chat_jsonl, tmp_path, hyperparameters={"suffix": "demo", "n_epochs": 2})
    view = run.view()
    assert view.status == "finished"
    assert [s for s, _ in view.losses] == [1, 2, 3, 4, 5, 6]
    assert view.losses[0][1] > view.losses[-1][1]
    assert [s for s, _ in view.eval_losses] == [2, 4, 6]
    assert view.output and "demo" in view.output
    assert view.backend == provider
    state = run.read_state()
    assert state["fine_tuned_model"] == view.output and state["status"] == "finished" and state["step"] == 6
    assert types(run)[0] == "run_started" and "model_loaded" in types(run) and types(run).count("checkpoint") == 2
    assert is_hosted_run(run) and read_hosted(run)["job_id"] in fake.jobs
    job = fake.jobs[read_hosted(run)["job_id"]]
    assert job.hyperparameters.get("n_epochs") == 2
    assert run.config_file.exists()
    from core.config import read_yaml_config

    assert read_yaml_config(run.config_file).epochs == 2  # config.yaml stays TrainConfig-valid
    assert_key_nowhere(run)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_failure_carries_the_providers_error_without_the_key(fake, provider, chat_jsonl, tmp_path):
    fake.scenario["fail_at"] = 3
    fake.scenario["error"] = {"code": "invalid_training_file", "message": f"Bad example on line 7 (key {KEY})"}
    run = start(fake, provider, chat_jsonl, tmp_path)
    view = run.view()
    assert view.status == "failed"
    assert "Bad example on line 7" in view.error and KEY not in view.error
    assert run.read_state()["status"] == "failed"
    assert_key_nowhere(run)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cancel_through_stop_command_with_a_detached_follower(fake, provider, chat_jsonl, tmp_path):
    fake.scenario["steps"] = 100_000
    run = start(fake, provider, chat_jsonl, tmp_path, detach=True)
    pid = run.read_state()["pid"]
    assert pid != os.getpid() and os.getsid(pid) != os.getsid(0)  # its own session
    wait_for(lambda: run.view().step >= 2)
    assert cancel_run(run) == "sent"
    wait_for(lambda: run.view().status == "stopped")
    job = fake.jobs[read_hosted(run)["job_id"]]
    assert job.status == "cancelled"
    assert read_events(run.events)[-1]["reason"] == "cancelled"
    wait_for(lambda: run.read_state().get("status") == "stopped")
    assert cancel_run(run) == "already-ended"
    assert_key_nowhere(run)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limits_server_errors_and_dropped_connections_are_retried(fake, provider, chat_jsonl, tmp_path):
    retrieve = r"/fine_tuning/jobs/[^/]+$" if provider == "openai" else r"/fine-tunes/ft-[^/]+$"
    fake.inject("GET", retrieve, 429, 500, "drop", 503)
    fake.inject("POST", r"/files$", 429)
    run = start(fake, provider, chat_jsonl, tmp_path)
    assert run.view().status == "finished"
    assert [s for s, _ in run.view().losses] == [1, 2, 3, 4, 5, 6]
    assert run.read_state()["retries"] == 4
    log = run.log.read_text()
    assert "HTTP 429" in log and "HTTP 500" in log and "HTTP 503" in log and "connection problem" in log
    assert not fake.faults


@pytest.mark.parametrize("provider", PROVIDERS)
def test_killed_follower_is_reattached_and_picks_up_where_it_left_off(fake, provider, chat_jsonl, tmp_path):
    fake.scenario["steps"] = 12
    run = start(fake, provider, chat_jsonl, tmp_path, detach=True)
    wait_for(lambda: run.view().step >= 3)
    os.kill(run.read_state()["pid"], signal.SIGKILL)
    time.sleep(0.2)
    step_before = run.view().step
    assert follow_run(run, api_key=KEY, detach=False, poll_interval=0.02) == "finished"
    steps = [e["step"] for e in read_events(run.events) if e["type"] == "step"]
    assert steps == list(range(1, 13))  # nothing lost, nothing repeated
    starts = [e for e in read_events(run.events) if e["type"] == "run_started"]
    assert len(starts) == 2 and starts[1]["resumed_from"] == step_before
    assert run.view().status == "finished"
    assert_key_nowhere(run)


def test_bad_data_stops_before_anything_is_uploaded(fake, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "only a question"}]}\n' * 12, encoding="utf-8")
    with pytest.raises(TunewizError) as err:
        start(fake, "openai", bad, tmp_path)
    assert "bad.jsonl:1: messages: no assistant message" in str(err.value)
    assert fake.count("POST", "/files") == 0 and not (tmp_path / "runs").exists()


def test_unaccepted_hyperparameter_is_refused(fake, chat_jsonl, tmp_path):
    with pytest.raises(TunewizError, match="does not accept the hyperparameter 'lora_r'"):
        start(fake, "openai", chat_jsonl, tmp_path, hyperparameters={"lora_r": 8})


def test_wrong_key_fails_the_run_clearly(fake, chat_jsonl, tmp_path):
    with pytest.raises(TunewizError, match="Incorrect API key"):
        start_hosted_run("openai", chat_jsonl, runs_dir=tmp_path / "runs", base_url=fake.base_url("openai"),
                         detach=False, api_key="sk-wrong-key-999999999", **FAST)
    (run_dir,) = (tmp_path / "runs").iterdir()
    events = read_events(run_dir / "events.jsonl")
    assert events[-1]["type"] == "failed" and "sk-wrong-key" not in events[-1]["error"]


def test_missing_sdk_names_the_pip_command(monkeypatch, chat_jsonl, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "together" else real(name, *a))
    with pytest.raises(TunewizError) as err:
        start_hosted_run("together", chat_jsonl, runs_dir=tmp_path / "runs", api_key=KEY)
    assert "pip install together" in str(err.value)


def test_key_comes_from_the_environment_or_a_clear_error(monkeypatch):
    from core.hosted import resolve_api_key

    monkeypatch.setenv("TOGETHER_API_KEY", "tk-env")
    assert resolve_api_key("together") == "tk-env"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(TunewizError, match="OPENAI_API_KEY"):
        resolve_api_key("openai", interactive=False)


async def test_a_hosted_run_shows_its_loss_in_the_live_screen(fake, chat_jsonl, tmp_path):
    """`tunewiz watch` on a hosted run: the same RunMonitor draws the provider's loss and the model id."""
    from tests.fixtures.watching import monitor_of, text_of, wait_until
    from tui.watch_app import make_watch_app

    run = start(fake, "openai", chat_jsonl, tmp_path, hyperparameters={"n_epochs": 2})
    app = make_watch_app(tmp_path, run)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: monitor_of(app) is not None and monitor_of(app).view.status == "finished",
                         timeout=30, what="the hosted run's events")
        view = monitor_of(app).view
        assert view.backend == "openai" and [s for s, _ in view.losses] == [1, 2, 3, 4, 5, 6]
        assert view.eval_losses and view.output.startswith("ft:")
        assert view.output in text_of(app, "#run-notes")
    assert KEY not in (tmp_path / "runs").joinpath(run.run_id, "events.jsonl").read_text()
