"""The event log: one writer, one tolerant incremental reader, one fold for every view."""

import json

from core.events import EventReader, EventWriter, fold, read_events
from core.runs import RunDir, find_run, list_runs, send_command, take_commands


def test_write_read_fold(tmp_path):
    w = EventWriter(tmp_path / "events.jsonl")
    w.emit("run_started", run_id="r1", config={"lr": 1}, backend="hf", pid=1)
    for step in range(1, 4):
        w.emit("step", step=step, total_steps=3, epoch=step / 3, loss=2.0 / step, learning_rate=1e-4, grad_norm=1.0,
               tokens_per_s=100.0, elapsed=step, eta=3 - step)
    w.emit("eval", step=3, eval_loss=0.9)
    w.emit("finished", step=3, output="adapter", final_loss=0.66)
    view = fold(read_events(tmp_path / "events.jsonl"))
    assert view.status == "finished" and view.step == 3 and view.total_steps == 3
    assert view.losses == [(1, 2.0), (2, 1.0), (3, 2.0 / 3)]
    assert view.eval_losses == [(3, 0.9)] and view.output == "adapter" and not view.is_active


def test_partial_last_line_waits_for_completion(tmp_path):
    path = tmp_path / "events.jsonl"
    EventWriter(path).emit("run_started", run_id="r")
    reader = EventReader(path)
    assert [e["type"] for e in reader.read_new()] == ["run_started"]
    line = json.dumps({"v": 1, "type": "step", "time": 0, "step": 1, "loss": 1.5})
    with open(path, "a") as fh:
        fh.write(line[:10])
    assert reader.read_new() == []
    with open(path, "a") as fh:
        fh.write(line[10:] + "\n")
    assert [e["step"] for e in reader.read_new()] == [1]


def test_corrupt_lines_are_skipped_and_counted(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"v":1,"type":"paused","time":0,"step":1}\nnot json\n[1,2]\n{"v":1,"type":"resumed","time":0}\n')
    reader = EventReader(path)
    assert [e["type"] for e in reader.read_new()] == ["paused", "resumed"]
    assert reader.bad_lines == 2


def test_nan_is_written_as_text_and_read_back(tmp_path):
    w = EventWriter(tmp_path / "events.jsonl")
    w.emit("step", step=1, loss=float("nan"), grad_norm=float("inf"))
    event = read_events(tmp_path / "events.jsonl")[0]
    assert event["loss"] == "nan"
    view = fold([event])
    assert view.loss != view.loss and view.grad_norm == float("inf")


def test_oom_waiting_then_recovered(tmp_path):
    view = fold([
        {"type": "run_started", "run_id": "r"},
        {"type": "oom", "step": 5, "waiting": True, "options": [{"id": "halve_batch"}]},
    ])
    assert view.status == "waiting_oom" and view.pending_oom["step"] == 5
    view.apply({"type": "recovered", "option": "halve_batch", "step": 5})
    assert view.status == "running" and view.pending_oom is None


def test_series_memory_is_bounded():
    from core.events import RunView

    view = RunView(max_points=100)
    for i in range(1000):
        view.apply({"type": "step", "step": i, "loss": 1.0})
    assert len(view.losses) <= 100 and view.losses[-1] == (999, 1.0)


def test_control_channel_and_run_lookup(tmp_path):
    runs = tmp_path / "runs"
    a, b = RunDir(runs / "20260101-000000-run-aaaa"), RunDir(runs / "20260102-000000-run-bbbb")
    for r in (a, b):
        EventWriter(r.events).emit("run_started", run_id=r.run_id)
    assert [r.run_id for r in list_runs(runs)][-1] == b.run_id
    assert find_run(runs, None) == b and find_run(runs, "aaaa") == a
    send_command(a, "pause")
    send_command(a, "oom_choice", option="halve_batch")
    got = take_commands(a)
    assert [c["command"] for c in got] == ["pause", "oom_choice"] and got[1]["option"] == "halve_batch"
    assert take_commands(a) == []


def test_writer_keeps_appending_across_close_and_a_second_writer(tmp_path):
    path = tmp_path / "events.jsonl"
    first = EventWriter(path)
    for step in range(1, 4):
        first.emit("step", step=step)
    first.close()
    first.emit("step", step=4)  # reopens after close
    EventWriter(path).emit("finished", step=4)  # another writer (a resumed trainer) appends after it
    first.close()
    assert [(e["type"], e.get("step")) for e in read_events(path)] == [
        ("step", 1), ("step", 2), ("step", 3), ("step", 4), ("finished", 4)]
