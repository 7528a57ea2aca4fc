"""Plain-text progress for terminals: one line per event (`format_event`) and a follower that tails a
run's event log until the run ends or its trainer dies (`follow`). Used by `tunewiz train`,
`tunewiz resume` and `tunewiz logs`; no heavy imports."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

from core.events import TERMINAL_TYPES, EventReader, as_float
from core.runs import RunDir


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def _num(value: Any, spec: str = ".4g") -> str:
    v = as_float(value)
    return "-" if v is None else format(v, spec)


def format_event(e: dict[str, Any]) -> str | None:
    """One human line (or a few) for an event; None for events not worth a line (gpu)."""
    kind = e.get("type")
    if kind == "run_started":
        resumed = f", resuming from step {e['resumed_from']}" if e.get("resumed_from") is not None else ""
        cfg = e.get("config") or {}
        return (f"run {e.get('run_id')} started (backend {e.get('backend')}, pid {e.get('pid')}{resumed}): "
                f"{cfg.get('method')} on {cfg.get('base_model')}")
    if kind == "model_loaded":
        extra = f", preflight peak {e['preflight_peak_gb']} GB" if e.get("preflight_peak_gb") is not None else ""
        return (f"model loaded: {e.get('params', 0):,} params, {e.get('trainable_params', 0):,} trainable, "
                f"{e.get('dtype')} on {e.get('device')}{extra}")
    if kind == "step":
        total = e.get("total_steps") or "?"
        tps = as_float(e.get("tokens_per_s"))
        return (f"step {e.get('step')}/{total}  loss {_num(e.get('loss'))}  lr {_num(e.get('learning_rate'), '.2e')}  "
                f"grad {_num(e.get('grad_norm'), '.3g')}  {(tps or 0):,.0f} tok/s  "
                f"elapsed {fmt_duration(as_float(e.get('elapsed')))}  ETA {fmt_duration(as_float(e.get('eta')))}")
    if kind == "eval":
        return f"eval at step {e.get('step')}: eval_loss {_num(e.get('eval_loss'))}"
    if kind == "checkpoint":
        return f"checkpoint at step {e.get('step')}: {e.get('path')}"
    if kind == "alert":
        return f"ALERT {e.get('kind')} at step {e.get('step')}: {e.get('message')}\n  try: {e.get('advice')}"
    if kind == "oom":
        lines = [f"OUT OF MEMORY during {e.get('where')} at step {e.get('step')} (batch {e.get('batch_size')}, "
                 f"max_seq_length {e.get('max_seq_length')}, peak {e.get('peak_gb') or '?'} GB, "
                 f"estimate {e.get('estimate_gb') or '?'} GB). Options, best first:"]
        for i, o in enumerate(e.get("options") or [], 1):
            pred = f" -> ~{o['predicted_gb']} GB" if o.get("predicted_gb") is not None else ""
            lines.append(f"  {i}. [{o['id']}] {o['label']}{pred} ({o.get('cost')})")
        if e.get("waiting"):
            lines.append("  waiting for a choice: `tunewiz resume RUN --option ID`")
        elif e.get("mode") == "auto":
            lines.append("  on_oom=auto: applying the first option")
        return "\n".join(lines)
    if kind == "recovered":
        return f"recovered with {e.get('option')} {e.get('changes')}; continuing from step {e.get('step')}"
    if kind in ("paused", "resumed"):
        return f"{kind} at step {e.get('step')}"
    if kind == "stopped":
        ck = f"; checkpoint {e['checkpoint']}" if e.get("checkpoint") else ""
        return f"stopped at step {e.get('step')} ({e.get('reason')}){ck}"
    if kind == "finished":
        return f"finished at step {e.get('step')}: {e.get('output')} (final loss {_num(e.get('final_loss'))})"
    if kind == "failed":
        hint = f"\n  hint: {e['hint']}" if e.get("hint") else ""
        return f"FAILED: {e.get('error')}{hint}"
    return None


def follow(run: RunDir, *, alive: Callable[[], bool], poll_s: float = 0.5, offset: int = 0,
           stop_at_end: bool = True) -> Iterator[dict[str, Any]]:
    """Yield events as they are appended. Ends after a terminal event (when `stop_at_end`), or when
    `alive()` turns false and nothing more arrives (a killed trainer writes no terminal event).
    `offset`: byte offset to start at (the log's size before a resume, to skip the earlier stretch)."""
    reader = EventReader(run.events)
    reader.offset = offset
    grace = 0
    while True:
        events = reader.read_new()
        for event in events:
            yield event
        ended = any(e.get("type") in TERMINAL_TYPES for e in events)
        # A resumed run starts a new stretch after a terminal event: only the newest one counts.
        if ended and stop_at_end and events[-1].get("type") in TERMINAL_TYPES:
            return
        if not events and not alive():
            grace += 1
            if grace > 3:
                return
        else:
            grace = 0
        time.sleep(poll_s)
