"""Following a run from its folder, for every live view (the Train screen, `tunewiz watch`).

`RunFollower` folds `events.jsonl` into a `RunView` fast (a million-line log is caught up in about a
second: step and gpu lines are recognised by their prefix and only a thinned sample of old steps is
parsed; every other event and the most recent steps are parsed in full), then incrementally. `LogTail`
follows `train.log`. The other helpers turn a `RunView` into what a view shows: chart series, the
planned memory estimate, whether an alert was resolved, and the checklist marks a finished run earns.
Nothing here writes to the run folder; commands go through `core.runs.send_command`."""

from __future__ import annotations

import copy
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

from core.events import SCHEMA_VERSION, TERMINAL_TYPES, EventReader, RunView, as_float, parse_line
from core.runs import RunDir, pid_alive

_STEP_PREFIX = f'{{"v": {SCHEMA_VERSION}, "type": "step",'.encode()
_GPU_PREFIX = f'{{"v": {SCHEMA_VERSION}, "type": "gpu",'.encode()


class RunFollower:
    """A run's events folded into `view`, kept current by `poll()`.

    `catch_up()` reads what is already in the log (call it once, off the UI thread); a log with more
    than `chart_points` step events keeps every `stride`-th old step plus the last `tail_steps` steps
    in full, and only the last gpu sample. Every other event is folded in order, so status, alerts,
    OOMs and evaluations are exact. `poll()` then folds new whole lines, at most `chunk_bytes` a call."""

    def __init__(
        self,
        run: RunDir,
        *,
        chart_points: int = 4000,
        tail_steps: int = 600,
        chunk_bytes: int = 4 << 20,
        share_cpu: float = 0.0,
    ):
        self.run = run
        self.view = RunView(max_points=max(chart_points, tail_steps) * 4)
        self.reader = EventReader(run.events)
        self.chart_points = chart_points
        self.tail_steps = tail_steps
        self.chunk_bytes = chunk_bytes
        # seconds to sleep every 5,000 lines of catch-up: a UI thread in the same interpreter then gets
        # the GIL promptly instead of queueing behind the parse (the GIL convoy effect)
        self.share_cpu = share_cpu
        self.thinned = 0  # step/gpu lines skipped during catch-up
        self.stride = 1  # every stride-th old step was kept (1: all of them)
        self.caught_up = False

    def _chunks(self, end: int):
        """Whole-line chunks of the log from the reader's offset up to `end`."""
        offset = self.reader.offset
        with open(self.run.events, "rb") as fh:
            fh.seek(offset)
            carry = b""
            while offset < end:
                data = fh.read(min(self.chunk_bytes, end - offset))
                if not data:
                    break
                offset += len(data)
                data = carry + data
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                carry = data[cut + 1 :]
                yield data[: cut + 1]

    def catch_up(self, progress: Callable[[float], None] | None = None) -> int:
        """Fold everything already written; returns the number of events folded or skipped."""
        try:
            size = self.run.events.stat().st_size
        except FileNotFoundError:
            self.caught_up = True
            return 0
        start = self.reader.offset
        steps = gpus = 0
        for chunk in self._chunks(size):  # pass 1: count step and gpu lines (bytes.count runs in C)
            if self.share_cpu:
                time.sleep(self.share_cpu)
            steps += chunk.startswith(_STEP_PREFIX) + chunk.count(b"\n" + _STEP_PREFIX)
            gpus += chunk.startswith(_GPU_PREFIX) + chunk.count(b"\n" + _GPU_PREFIX)
        old_steps = max(0, steps - self.tail_steps)
        stride = max(1, math.ceil(old_steps / self.chart_points)) if old_steps > self.chart_points else 1
        self.stride = stride
        step_i = gpu_i = folded = 0
        done = start
        view = self.view
        for chunk in self._chunks(size):  # pass 2: fold in order, thinning old steps and gpu samples
            for raw in chunk.splitlines():
                if self.share_cpu and folded % 5000 == 0:
                    time.sleep(self.share_cpu)
                if raw.startswith(_STEP_PREFIX):
                    keep = step_i >= old_steps or step_i % stride == 0
                    step_i += 1
                elif raw.startswith(_GPU_PREFIX):
                    keep = gpu_i == gpus - 1
                    gpu_i += 1
                else:
                    keep = bool(raw.strip())
                folded += 1
                if not keep:
                    self.thinned += 1
                    view.events_seen += 1
                    continue
                event = parse_line(raw)
                if event is None:
                    self.reader.bad_lines += 1
                else:
                    view.apply(event)
            done += len(chunk)
            self.reader.offset = done
            if progress and size > start:
                progress(min(1.0, (done - start) / (size - start)))
        self.caught_up = True
        return folded

    def poll(self) -> int:
        """Fold new whole events; returns how many."""
        if not self.caught_up:
            return self.catch_up()
        events = self.reader.read_new(max_bytes=self.chunk_bytes)
        self.view.apply_all(events)
        return len(events)

    def liveness(self) -> str:
        """'alive' or 'dead' from the trainer's pid in state.json, 'unknown' without one."""
        state = self.run.read_state()
        pid = state.get("pid")
        if not pid:
            return "unknown"
        return "alive" if pid_alive(pid) else "dead"


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def clean_log_line(raw: str) -> str:
    """What a terminal would show of one line: the text after the last carriage return, without ANSI codes."""
    if "\r" in raw:
        parts = [p for p in raw.split("\r") if p.strip()]
        raw = parts[-1] if parts else ""
    return _ANSI.sub("", raw).rstrip()


class LogTail:
    """Follows a text log: `initial(n)` gives its last n lines without reading the whole file, then
    `read_new()` gives whole lines appended since (a file that shrank is read again from the start)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.offset = 0

    def initial(self, lines: int = 200, block: int = 64 * 1024) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                data = b""
                pos = size
                while pos > 0 and data.count(b"\n") <= lines:
                    step = min(block, pos)
                    pos -= step
                    fh.seek(pos)
                    data = fh.read(step) + data
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n")
        self.offset = pos + end + 1 if end >= 0 else pos
        body = data[: end + 1] if end >= 0 else b""
        out = [clean_log_line(x) for x in body.decode("utf-8", "replace").split("\n")[:-1]]
        if pos > 0 and out:
            out = out[1:]  # the first line may be cut
        return out[-lines:]

    def read_new(self, max_bytes: int = 1 << 20) -> list[str]:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() < self.offset:
                    self.offset = 0
                fh.seek(self.offset)
                data = fh.read(max_bytes)
        except FileNotFoundError:
            return []
        newline, redraw = data.rfind(b"\n"), data.rfind(b"\r")
        if newline < 0 and redraw < 0:
            if len(data) >= max_bytes:  # one line longer than the window: skip it rather than stall
                self.offset += len(data)
            return []
        # Progress bars redraw with \r and no newline for a whole run: consume those redraws too, or the
        # tail would wait for a newline that never comes inside its window. Only whole lines are shown.
        self.offset += max(newline, redraw) + 1
        if newline < 0:
            return []
        return [clean_log_line(x) for x in data[: newline + 1].decode("utf-8", "replace").split("\n")[:-1]]


# --- what a view shows -------------------------------------------------------------------------


def chart_series(
    points: list[tuple[int, float]], *, last_steps: int | None = None, log_scale: bool = False, max_points: int = 400
) -> tuple[list[int], list[float]]:
    """(steps, values) for a chart: finite values only (positive ones on a log scale), limited to the
    last `last_steps` steps, thinned to about `max_points` (keeping the newest point)."""
    pts = [(s, v) for s, v in points if v is not None and math.isfinite(v) and (v > 0 or not log_scale)]
    if last_steps and pts:
        first = pts[-1][0] - last_steps
        pts = [(s, v) for s, v in pts if s > first]
    if len(pts) > max_points:
        stride = math.ceil(len(pts) / max_points)
        last = pts[-1]
        pts = pts[::stride]
        if pts[-1] != last:
            pts.append(last)
    return [s for s, _ in pts], [v for _, v in pts]


def recent(values: list[float], n: int = 120) -> list[float]:
    """The last n finite values (for sparklines)."""
    return [v for v in values[-n:] if v is not None and math.isfinite(v)]


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h >= 24:
        d, h = divmod(h, 24)
        return f"{d}d {h}h{m:02d}m"
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_number(value: float | None, digits: int = 4) -> str:
    if value is None:
        return "--"
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def plan_estimate_gb(plan: dict[str, Any] | None) -> float | None:
    """The peak-memory estimate recorded by the Plan step, whichever of the usual keys holds it."""
    plan = plan or {}
    for key in ("estimate_gb", "peak_gb", "total_gb", "vram_gb"):
        value = as_float(plan.get(key))
        if value:
            return value
    nested = plan.get("estimate")
    if isinstance(nested, dict):
        return plan_estimate_gb(nested)
    return None


def planned_estimate(view: RunView, plan: dict[str, Any] | None = None) -> tuple[float | None, str]:
    """The memory the run is expected to peak at and where that number came from: the predicted peak
    of the last applied OOM option, else the last oom event's estimate, else model_loaded, else the plan."""
    for rec in reversed(view.recoveries):
        option = option_for(view, rec.get("option"))
        value = as_float((option or {}).get("predicted_gb"))
        if value:
            return value, f"predicted for '{option.get('label', rec.get('option'))}'"
    for oom in reversed(view.ooms):
        value = as_float(oom.get("estimate_gb"))
        if value:
            return value, "estimate (oom event)"
    value = as_float(view.model.get("estimate_gb"))
    if value:
        return value, "estimate (model_loaded)"
    value = plan_estimate_gb(plan)
    if value:
        return value, "plan estimate"
    return None, ""


def card_memory_gb(view: RunView, oom: dict[str, Any] | None = None) -> float | None:
    """Total memory of the card the run is on: from the oom event if it says, else the first GPU sample."""
    for key in ("card_gb", "total_gb", "mem_total_gb"):
        value = as_float((oom or {}).get(key))
        if value:
            return value
    gpus = view.gpu.get("gpus") or []
    if gpus:
        return as_float(gpus[0].get("mem_total_gb"))
    return None


def option_for(view: RunView, option_id: str | None) -> dict[str, Any] | None:
    for oom in reversed(view.ooms):
        for option in oom.get("options") or []:
            if option.get("id") == option_id:
                return option
    return None


def ranked_options(oom: dict[str, Any], card_gb: float | None) -> list[dict[str, Any]]:
    """The oom event's options in the engine's order, those predicted to fit on the card first.
    Each gets `fits` (True, False or None when the card size is unknown)."""
    out = []
    for option in oom.get("options") or []:
        predicted = as_float(option.get("predicted_gb"))
        fits = None if (card_gb is None or predicted is None) else predicted <= card_gb
        out.append({**option, "fits": fits})
    return sorted(out, key=lambda o: {True: 0, None: 1, False: 2}[o["fits"]])


def describe_changes(changes: Any) -> str:
    """`{"batch_size": 1, "grad_accum": 8}` -> "batch_size=1, grad_accum=8"."""
    if isinstance(changes, dict):
        return ", ".join(f"{k}={v}" for k, v in changes.items())
    if isinstance(changes, (list, tuple)):
        return ", ".join(str(c) for c in changes)
    return str(changes or "")


def describe_recovery(view: RunView, rec: dict[str, Any]) -> str:
    """One line saying what an OOM recovery changed and why."""
    option = option_for(view, rec.get("option")) or {}
    label = option.get("label") or rec.get("option") or "recovery"
    changes = describe_changes(rec.get("changes") or option.get("changes"))
    why = []
    oom = next((o for o in reversed(view.ooms) if any(p.get("id") == rec.get("option") for p in o.get("options") or [])), None)
    if oom:
        peak, est = as_float(oom.get("peak_gb")), as_float(oom.get("estimate_gb"))
        why.append(f"OOM at step {oom.get('step', '?')} ({oom.get('where', 'train')})")
        if peak:
            why.append(f"peak {peak:.1f} GB")
        elif est:
            why.append(f"estimate {est:.1f} GB")
    predicted = as_float(option.get("predicted_gb"))
    if predicted:
        why.append(f"now predicted {predicted:.1f} GB")
    text = f"step {rec.get('step', '?')}: {label}"
    if changes:
        text += f" ({changes})"
    if why:
        text += " because " + ", ".join(why)
    return text


_RECENT = 10


def alert_resolved(view: RunView, alert: dict[str, Any]) -> bool:
    """Whether the run got past an alert: settings changed after it (an OOM recovery or a resumed
    start), or what it saw went away (loss back below its level at the alert, flat loss fell by 10%,
    validation loss back to its best before the alert, finite losses after a NaN)."""
    at = int(alert.get("step") or 0)
    if any(int(r.get("step") or 0) >= at for r in view.recoveries):
        return True
    kind = alert.get("kind")
    after = [v for s, v in view.losses if s > at and math.isfinite(v)]
    before = [v for s, v in view.losses if s <= at and math.isfinite(v)]
    if kind == "overfitting":
        best_before = min((v for s, v in view.eval_losses if s <= at), default=None)
        later = [v for s, v in view.eval_losses if s > at]
        return bool(best_before is not None and later and later[-1] <= best_before)
    if kind == "nan_loss":
        return len(after) >= _RECENT
    if len(after) < _RECENT or not before:
        return False
    recent_mean = sum(after[-_RECENT:]) / _RECENT
    ref = sum(before[-_RECENT:]) / len(before[-_RECENT:])
    if kind == "flat_loss":
        return recent_mean <= 0.9 * ref
    return recent_mean <= ref  # loss_spike, grad_explosion and anything new


def unresolved_alerts(view: RunView) -> list[dict[str, Any]]:
    """Alerts still standing, one per kind (the latest of each kind decides)."""
    latest: dict[str, dict[str, Any]] = {}
    for alert in view.alerts:
        latest[str(alert.get("kind"))] = alert
    return [a for a in latest.values() if not alert_resolved(view, a)]


def checklist_marks(view: RunView) -> list[tuple[str, bool, str]]:
    """Checklist marks for a finished run: `no_oom` (noting a recovery when there were OOMs) and
    `loss_healthy` (not done while an alert is unresolved). Nothing for a run that has not finished."""
    if view.status != "finished":
        return []
    run = view.run_id or "run"
    if view.ooms:
        n = len(view.ooms)
        oom_note = f"{run} finished; recovered from OOM ({n} time{'s' if n > 1 else ''})"
    else:
        oom_note = f"{run} finished without OOM"
    marks = [("no_oom", True, oom_note)]
    standing = unresolved_alerts(view)
    if standing:
        kinds = ", ".join(sorted(str(a.get("kind")) for a in standing))
        marks.append(("loss_healthy", False, f"{run}: unresolved alert: {kinds}"))
    else:
        seen = f" ({len(view.alerts)} alert(s), all resolved)" if view.alerts else ""
        marks.append(("loss_healthy", True, f"{run} finished{seen}"))
    return marks


def snapshot(view: RunView) -> RunView:
    """A copy of `view` that a UI thread may read while the follower keeps folding into the original."""
    snap = copy.copy(view)
    for name in ("losses", "eval_losses", "learning_rates", "grad_norms", "alerts", "ooms", "recoveries"):
        setattr(snap, name, list(getattr(view, name)))
    snap.gpu, snap.model, snap.config = dict(view.gpu), dict(view.model), dict(view.config)
    return snap


def record_run_outcome(state: Any, run: RunDir, view: RunView) -> bool:
    """Write a run's outcome into a `ProjectState`: when the run has ended, `train["active_run"]` is
    cleared and `train["last_run"]`, `last_status`, `output` are set, and a finished run's checklist
    marks are applied. Returns whether anything changed (the caller saves)."""
    if view.is_active:
        return False
    train = dict(state.train)
    before = dict(train)
    if train.get("active_run") in (run.run_id, str(run.path)):
        train.pop("active_run")
    train["last_run"] = run.run_id
    train["last_status"] = view.status
    if view.output:
        train["output"] = view.output
    changed = train != before
    if changed:
        state.train = train
    for item_id, done, note in checklist_marks(view):
        mark = state.checklist.get(item_id)
        if not mark or mark.done != done or mark.note != note:
            state.tick(item_id, note, done)
            changed = True
    return changed


def active_run_of(state_train: dict[str, Any], runs_dir: str | Path) -> RunDir | None:
    """The project's active run (`train["active_run"]`, an id or a path) if its folder exists and its
    log does not end in stopped/finished/failed."""
    ref = (state_train or {}).get("active_run")
    if not ref:
        return None
    path = Path(ref) if Path(ref).is_absolute() else Path(runs_dir) / ref
    run = RunDir(path)
    if not run.events.exists():
        return None
    return run if not log_ended(run) else None


def log_ended(run: RunDir, tail_bytes: int = 256 * 1024) -> bool:
    """Whether the run's log ends in stopped/finished/failed (after its last run_started), reading only
    its tail, so a huge log costs nothing at start-up."""
    try:
        with open(run.events, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - tail_bytes))
            data = fh.read()
    except FileNotFoundError:
        return False
    for raw in reversed(data.splitlines()):
        event = parse_line(raw)
        if event is None:
            continue
        if event.get("type") in TERMINAL_TYPES:
            return True
        if event.get("type") == "run_started":
            return False
    return False


def wizard_start_step(project_dir: str | Path | None) -> str | None:
    """"train" when the project has an active run (relaunching `tunewiz` returns to it), else None."""
    from core.project import Project

    project = Project(project_dir)
    if active_run_of(project.state.train, project.runs_dir) is not None:
        return "train"
    return None

