"""core/watch.py: following a run folder fast and exactly, the log tail, and what a view derives."""

from __future__ import annotations

import os
import time

import pytest

from core.events import RunView, fold, read_events
from core.project import Project
from core.runs import RunDir
from core.watch import (
    LogTail, RunFollower, active_run_of, alert_resolved, chart_series, checklist_marks, clean_log_line,
    describe_recovery, log_ended, planned_estimate, ranked_options, record_run_outcome, unresolved_alerts,
    wizard_start_step,
)
from tests.fixtures import make_runs
from tests.fixtures.watching import append_events


@pytest.fixture
def runs(tmp_path):
    return make_runs.make_all(tmp_path / "runs")


def test_follower_matches_plain_fold_on_every_fixture(runs):
    for name, run in runs.items():
        follower = RunFollower(run)
        follower.catch_up()
        full = fold(read_events(run.events))
        view = follower.view
        assert (view.status, view.step, view.total_steps, view.loss) == (full.status, full.step, full.total_steps, full.loss), name
        assert view.losses == full.losses and view.eval_losses == full.eval_losses, name
        assert view.alerts == full.alerts and view.ooms == full.ooms and view.recoveries == full.recoveries, name
        assert view.gpu == full.gpu, name
        assert view.events_seen == full.events_seen, name
        assert follower.stride == 1


def test_follower_is_incremental_and_tolerates_a_partial_line(tmp_path):
    run = make_runs.healthy_run(tmp_path / "runs", upto=10, pid=os.getpid())
    follower = RunFollower(run)
    follower.catch_up()
    assert follower.view.step == 10 and follower.view.status == "running"
    with open(run.events, "a") as fh:
        fh.write('{"v": 1, "type": "step", "time": 1.0, "step": 11, "total_steps": 120, "lo')
    assert follower.poll() == 0
    with open(run.events, "a") as fh:
        fh.write('ss": 0.5}\n')
    assert follower.poll() == 1
    assert follower.view.step == 11 and follower.view.loss == 0.5
    append_events(run, {"type": "paused", "step": 11})
    follower.poll()
    assert follower.view.status == "paused"


def test_big_log_catch_up_is_thinned_but_exact_where_it_matters(tmp_path):
    path = make_runs.big_log(tmp_path / "big" / "events.jsonl", 120_000)
    run = RunDir(path.parent)
    append_events(run, {"type": "alert", "kind": "loss_spike", "step": 5, "message": "m", "advice": "a"})
    t0 = time.perf_counter()
    follower = RunFollower(run, chart_points=2000, tail_steps=300)
    follower.catch_up()
    took = time.perf_counter() - t0
    full = fold(read_events(path))
    view = follower.view
    assert follower.stride > 1 and follower.thinned > 0
    assert (view.step, view.loss, view.total_steps, view.status) == (full.step, full.loss, full.total_steps, full.status)
    assert view.eval_losses == full.eval_losses  # every evaluation is kept
    assert view.alerts == full.alerts and view.gpu == full.gpu
    assert view.losses[-300:] == full.losses[-300:]  # the recent steps in full
    assert 2000 <= len(view.losses) <= 2000 + 300 + 2
    assert view.events_seen == full.events_seen
    assert took < 10, f"catch-up of 120k lines took {took:.1f}s"


def test_log_tail_initial_follow_truncate_and_carriage_returns(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"line {i}\n" for i in range(5000)))
    tail = LogTail(log)
    assert tail.initial(10) == [f"line {i}" for i in range(4990, 5000)]
    assert tail.read_new() == []
    with open(log, "a") as fh:
        fh.write("progress 10%\rprogress 50%\x1b[0m\rprogress 100%\nhalf")
    assert tail.read_new() == ["progress 100%"]
    with open(log, "a") as fh:
        fh.write(" a line\n")
    assert tail.read_new() == ["half a line"]
    log.write_text("fresh\n")  # rotated / rewritten
    assert tail.read_new() == ["fresh"]
    assert LogTail(tmp_path / "missing.log").initial() == []
    assert clean_log_line("\x1b[31mred\x1b[0m") == "red"


def test_chart_series_zoom_log_and_thinning():
    points = [(s, 1.0 / s) for s in range(1, 1001)] + [(1001, float("nan")), (1002, 0.0)]
    xs, ys = chart_series(points, max_points=100)
    assert len(xs) <= 102 and xs[-1] == 1002 and ys[-1] == 0.0
    xs, ys = chart_series(points, log_scale=True, max_points=10_000)
    assert 0.0 not in ys and xs[-1] == 1000
    xs, _ = chart_series(points, last_steps=50, max_points=10_000)
    assert xs[0] == 953 and xs[-1] == 1002


def _view(losses, alerts=(), evals=(), recoveries=(), status="finished"):
    view = RunView()
    view.losses = list(losses)
    view.eval_losses = list(evals)
    view.alerts = list(alerts)
    view.recoveries = list(recoveries)
    view.status = status
    view.run_id = "r"
    return view


def test_alert_resolution_rules():
    falling = [(s, 2.0 - s * 0.01) for s in range(1, 101)]
    spike = {"kind": "loss_spike", "step": 50}
    assert alert_resolved(_view(falling, [spike]), spike)  # loss came back below its level
    rising = [(s, 1.0 + s * 0.01) for s in range(1, 101)]
    assert not alert_resolved(_view(rising, [spike]), spike)
    flat = {"kind": "flat_loss", "step": 50}
    assert not alert_resolved(_view([(s, 1.0) for s in range(1, 101)], [flat]), flat)
    assert alert_resolved(_view(falling, [flat]), flat)
    over = {"kind": "overfitting", "step": 60}
    evals_up = [(20, 1.0), (40, 0.9), (60, 1.1), (80, 1.2)]
    assert not alert_resolved(_view(falling, [over], evals_up), over)
    assert alert_resolved(_view(falling, [over], evals_up + [(100, 0.85)]), over)
    assert alert_resolved(_view(rising, [spike], recoveries=[{"step": 60}]), spike)  # settings changed after it
    assert [a["kind"] for a in unresolved_alerts(_view(rising, [spike, flat]))] == ["loss_spike", "flat_loss"]


def test_checklist_marks_per_fixture(runs):
    marks = {name: {m[0]: m[1:] for m in checklist_marks(run.view())} for name, run in runs.items()}
    assert marks["healthy"]["no_oom"] == (True, "20260101-090000-run-heal finished without OOM")
    assert marks["healthy"]["loss_healthy"][0] is True
    assert marks["oom_auto"]["no_oom"][0] is True and "recovered from OOM" in marks["oom_auto"]["no_oom"][1]
    assert marks["overfitting"]["loss_healthy"][0] is False
    assert "overfitting" in marks["overfitting"]["loss_healthy"][1]
    assert marks["failed"] == {} and marks["oom_waiting"] == {}


def test_record_run_outcome_updates_project(runs, tmp_path):
    project = Project(tmp_path)
    project.state.train = {"active_run": runs["oom_auto"].run_id}
    assert record_run_outcome(project.state, runs["oom_auto"], runs["oom_auto"].view())
    assert "active_run" not in project.state.train
    assert project.state.train["last_run"] == runs["oom_auto"].run_id
    assert project.state.train["output"].endswith("/adapter")
    assert project.state.is_ticked("no_oom") and project.state.is_ticked("loss_healthy")
    assert not record_run_outcome(project.state, runs["oom_auto"], runs["oom_auto"].view())  # idempotent
    assert not record_run_outcome(project.state, runs["oom_waiting"], runs["oom_waiting"].view())  # still active


def test_active_run_and_wizard_start_step(runs, tmp_path):
    project = Project(tmp_path)
    assert wizard_start_step(tmp_path) is None
    assert not log_ended(runs["oom_waiting"]) and log_ended(runs["healthy"]) and log_ended(runs["failed"])
    project.state.train = {"active_run": runs["oom_waiting"].run_id}
    project.save()
    assert active_run_of(project.state.train, project.runs_dir) == runs["oom_waiting"]
    assert wizard_start_step(tmp_path) == "train"
    project.state.train = {"active_run": runs["healthy"].run_id}
    project.save()
    assert wizard_start_step(tmp_path) is None
    append_events(runs["healthy"], {"type": "run_started", "run_id": "x", "config": {}, "backend": "hf", "pid": 1})
    assert wizard_start_step(tmp_path) == "train"  # resumed after it finished


def test_oom_options_ranked_and_estimates(runs):
    view = runs["oom_waiting"].view()
    ranked = ranked_options(view.pending_oom, 24.0)
    assert [o["id"] for o in ranked][-1] == "lower_rank" and ranked[-1]["fits"] is False
    assert all(o["fits"] for o in ranked[:-1])
    assert [o["fits"] for o in ranked_options(view.pending_oom, None)] == [None] * 6
    assert planned_estimate(view, {}) == (21.5, "estimate (oom event)")
    auto = runs["oom_auto"].view()
    value, source = planned_estimate(auto, {})
    assert value == 17.8 and "Halve micro-batch" in source
    text = describe_recovery(auto, auto.recoveries[0])
    assert "batch_size=2, grad_accum=8" in text and "OOM at step 41 (eval)" in text and "17.8 GB" in text
    assert planned_estimate(RunView(), {"estimate": {"total_gb": 9.5}}) == (9.5, "plan estimate")


def test_log_tail_keeps_following_past_long_progress_bar_redraws(tmp_path):
    """A progress bar redraws with \\r and no newline for a whole run; the tail must not stall behind it
    (it used to wait forever once the redraws outgrew its read window)."""
    from core.watch import LogTail

    log = tmp_path / "train.log"
    log.write_text("loading\nstep 10\n")
    tail = LogTail(log)
    assert tail.read_new() == ["loading", "step 10"]
    with open(log, "a") as fh:
        for i in range(60_000):
            fh.write(f"\r  {i}/60000 [progress bar redraw]")
    for _ in range(5):
        assert tail.read_new(max_bytes=1 << 20) == []
    with open(log, "a") as fh:
        fh.write("\nstep 20\nfinished\n")
    seen = []
    for _ in range(5):
        seen += tail.read_new(max_bytes=1 << 20)
    assert seen[-2:] == ["step 20", "finished"]


def test_log_tail_skips_a_line_longer_than_its_window(tmp_path):
    from core.watch import LogTail

    log = tmp_path / "train.log"
    log.write_text("x" * 5000)
    tail = LogTail(log)
    assert tail.read_new(max_bytes=1000) == []
    with open(log, "a") as fh:
        fh.write("\nnext\n")
    seen = []
    for _ in range(10):
        seen += tail.read_new(max_bytes=1000)
    assert seen[-1] == "next"
