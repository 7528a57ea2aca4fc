"""The training engine in-process on the tiny model, for every backend available on this machine:
a healthy run, events and state, assistant-only masking, injected OOMs (auto, ask, stop + resume),
a full disk while checkpointing, and crafted runs that must raise health alerts."""

import json
import threading
import time

import pytest

from core.events import EVENT_TYPES, read_events
from core.runs import send_command
from core.train.backends import available_backends
from core.train.launch import resume_run, start_run

pytestmark = pytest.mark.slow

BACKENDS = available_backends()


def events_of(run, kind=None):
    events = read_events(run.events)
    return [e for e in events if kind is None or e["type"] == kind]


def step_numbers(run):
    return [e["step"] for e in events_of(run, "step")]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def test_healthy_run_finishes_with_loadable_adapter(train_config, tmp_path, backend, tiny_model_dir):
    run = start_run(train_config(backend=backend), runs_dir=tmp_path / "runs", detach=False)
    events = events_of(run)
    assert {e["type"] for e in events} <= EVENT_TYPES
    assert [e["type"] for e in events][:2] == ["run_started", "model_loaded"]
    assert events[-1]["type"] == "finished"
    assert step_numbers(run) == list(range(1, 13))
    step = events_of(run, "step")[0]
    for field in ("step", "total_steps", "epoch", "loss", "learning_rate", "grad_norm", "tokens_per_s", "elapsed", "eta"):
        assert step[field] is not None, field
    assert step["total_steps"] == 12
    loaded = events_of(run, "model_loaded")[0]
    assert loaded["backend"] == backend and 0 < loaded["trainable_params"] < loaded["params"]
    assert [e["step"] for e in events_of(run, "eval")] == [4, 8, 12]
    assert [e["step"] for e in events_of(run, "checkpoint")] == [4, 8, 12]
    gpu = events_of(run, "gpu")[0]
    assert gpu["device"] == "cpu" and gpu["rss_gb"] > 0
    assert events_of(run, "alert") == []  # a healthy run is quiet
    assert run.read_state()["status"] == "finished"
    # the frozen config has absolute paths
    import yaml

    frozen = yaml.safe_load(run.config_file.read_text())
    assert frozen["train_file"].startswith("/") and frozen["base_model"] == str(tiny_model_dir)

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), run.adapter)
    assert any("lora" in n for n, _ in model.named_parameters())


def test_every_label_masked_fails_early(train_config, tmp_path):
    from core.toy import write_jsonl

    no_assistant = [{"messages": [{"role": "user", "content": f"hello {i}"}]} for i in range(8)]
    path = write_jsonl(tmp_path / "user_only.jsonl", no_assistant)
    run = start_run(train_config(train_file=str(path), val_file=None), runs_dir=tmp_path / "runs", detach=False)
    failed = events_of(run, "failed")
    assert failed and "every label is masked" in failed[0]["error"]
    assert "generation" in failed[0]["hint"]
    assert events_of(run, "step") == []


@pytest.mark.parametrize("fault", ["train:5", "eval:4"])
def test_injected_oom_auto_recovers_with_continuous_steps(train_config, tmp_path, monkeypatch, backend, fault):
    monkeypatch.setenv("TUNEWIZ_FAULT_OOM", fault)
    run = start_run(train_config(backend=backend, save_steps=100), runs_dir=tmp_path / "runs", detach=False)
    events = events_of(run)
    assert events[-1]["type"] == "finished", events[-1]
    assert step_numbers(run) == list(range(1, 13))  # continuous: nothing lost, nothing repeated
    oom = events_of(run, "oom")[0]
    assert oom["where"] == fault.split(":")[0] and oom["mode"] == "auto" and not oom["waiting"]
    assert oom["options"][0]["id"] == "halve_batch"
    recovered = events_of(run, "recovered")[0]
    assert recovered["changes"] == {"batch_size": 2, "grad_accum": 2}
    assert recovered["step"] == oom["step"]  # resumed from the checkpoint saved at the OOM
    state = run.read_state()
    assert state["overrides"] == {"batch_size": 2, "grad_accum": 2} and state["oom_recoveries"] == 1


def test_injected_oom_ask_waits_for_a_choice(train_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWIZ_FAULT_OOM", "train:3")
    box = {}

    def answer():
        deadline = time.time() + 120
        while time.time() < deadline and "run" not in box:
            time.sleep(0.05)
        run = box["run"]
        while time.time() < deadline:
            ooms = [e for e in read_events(run.events) if e["type"] == "oom"]
            if ooms:
                box["oom"] = ooms[0]
                send_command(run, "oom_choice", option="halve_batch")
                return
            time.sleep(0.1)

    import core.train.launch as launch

    real_run_here = launch._run_here

    def capture(run, *, resume):
        box["run"] = run
        return real_run_here(run, resume=resume)

    monkeypatch.setattr(launch, "_run_here", capture)
    helper = threading.Thread(target=answer, daemon=True)
    helper.start()
    run = start_run(train_config(on_oom="ask", save_steps=100), runs_dir=tmp_path / "runs", detach=False)
    helper.join(5)
    assert box["oom"]["waiting"] is True and box["oom"]["mode"] == "ask"
    assert events_of(run)[-1]["type"] == "finished"
    assert step_numbers(run) == list(range(1, 13))
    assert events_of(run, "recovered")[0]["option"] == "halve_batch"


def test_oom_stop_then_resume_with_option(train_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWIZ_FAULT_OOM", "train:6")
    run = start_run(train_config(on_oom="stop"), runs_dir=tmp_path / "runs", detach=False)
    failed = events_of(run, "failed")[0]
    assert "out of memory" in failed["error"] and "--option" in failed["hint"]
    assert run.read_state()["status"] == "failed"
    resume_run(run, option="halve_batch", detach=False)
    assert events_of(run)[-1]["type"] == "finished"
    assert step_numbers(run) == list(range(1, 13))
    assert run.read_state()["overrides"] == {"batch_size": 2, "grad_accum": 2}
    started = events_of(run, "run_started")
    assert started[-1]["resumed_from"] == 5 and started[-1]["config"]["batch_size"] == 2


def test_full_disk_while_checkpointing_keeps_previous(train_config, tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWIZ_FAULT_DISKFULL", "checkpoint:8")
    run = start_run(train_config(), runs_dir=tmp_path / "runs", detach=False)
    failed = events_of(run, "failed")[0]
    assert "disk full" in failed["error"] and "checkpoint-4 is intact" in failed["error"]
    assert (run.checkpoints / "checkpoint-4" / "trainer_state.json").exists()
    assert not (run.checkpoints / "checkpoint-8").exists()


def test_tokens_never_reach_the_run_folder(train_config, tmp_path, monkeypatch):
    secret = "hf_" + "S3cr3tT0kenValue" * 3
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("TUNEWIZ_FAULT_DISKFULL", "checkpoint:4")
    run = start_run(train_config(max_steps=4), runs_dir=tmp_path / "runs", detach=False)
    for path in run.path.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="ignore"), path


@pytest.mark.parametrize(
    "overrides,kind",
    [
        (dict(method="full", learning_rate=1.0, max_steps=20, warmup_steps=0, eval_steps=100, save_steps=100), {"loss_spike", "grad_explosion", "nan_loss"}),
        (dict(learning_rate=1e-9, max_steps=24, warmup_steps=0, eval_steps=100, save_steps=100), {"flat_loss"}),
    ],
    ids=["lr-1.0-spikes", "lr-0-flat"],
)
def test_crafted_runs_raise_alerts(train_config, tmp_path, overrides, kind):
    run = start_run(train_config(**overrides), runs_dir=tmp_path / "runs", detach=False)
    kinds = {e["kind"] for e in events_of(run, "alert")}
    assert kinds & kind, kinds
    for alert in events_of(run, "alert"):
        assert alert["message"] and alert["advice"]


def test_tiny_dataset_overfits_and_alerts(train_config, tmp_path, tiny_model_dir):
    from core.toy import make_chat_examples, write_jsonl

    tiny = write_jsonl(tmp_path / "tiny.jsonl", make_chat_examples(4, seed=3))
    run = start_run(
        train_config(train_file=str(tiny), method="full", learning_rate=3e-2, max_steps=80, batch_size=4,
                     eval_steps=5, save_steps=100, warmup_steps=0, early_stop=True),
        runs_dir=tmp_path / "runs", detach=False,
    )
    alerts = events_of(run, "alert")
    assert "overfitting" in {a["kind"] for a in alerts}, [a["kind"] for a in alerts]
    finished = events_of(run, "finished")[0]
    assert finished["early_stopped"] is True and finished["step"] < 80
