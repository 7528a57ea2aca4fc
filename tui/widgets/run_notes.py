"""The notes under the charts: the run's state in words (finished, stopped, failed, waiting on an OOM
choice, trainer gone), alerts with what to try, and the OOM recoveries with what changed and why."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from core.events import RunView
from core.watch import alert_resolved, describe_recovery, format_number


def notes_text(view: RunView, *, run_id: str, liveness: str, oom_choice: str | None) -> Text:
    out = Text()

    def line(mark: str, style: str, text: str, hint: str | None = None) -> None:
        if out:
            out.append("\n")
        out.append(f"{mark} ", style=style)
        out.append(text)
        if hint:
            out.append(f"\n  {hint}", style="dim")

    if view.status == "finished":
        line("✔", "bold green", f"finished at step {view.step}; final loss {format_number(view.loss)}",
             f"output: {view.output or '?'}  · press e to evaluate")
    elif view.status == "failed":
        line("✖", "bold red", f"failed: {view.error or 'no error recorded'}", f"try: {view.hint}" if view.hint else None)
    elif view.status == "stopped":
        line("■", "bold yellow", f"stopped at step {view.step}", f"continue with: tunewiz resume {run_id}")
    elif view.status == "paused":
        line("⏸", "bold yellow", f"paused at step {view.step}", "p resumes")
    elif view.status == "waiting_oom" and view.pending_oom:
        oom = view.pending_oom
        if oom_choice:
            line("…", "bold yellow", f"out of memory at step {oom.get('step')}: sent '{oom_choice}'",
                 "waiting for the trainer to resume from its last checkpoint")
        else:
            line("✖", "bold red", f"out of memory at step {oom.get('step')} ({oom.get('where', 'train')}): "
                 "the run waits for your choice", "press o to pick a fix")
    if view.is_active and liveness == "dead":
        line("✖", "bold red", "the trainer process is not running (killed, or the machine restarted)",
             f"continue from the last checkpoint with: tunewiz resume {run_id}")
    if view.status == "pending" and not view.events_seen:
        line("…", "dim", "waiting for the run to start")
    for rec in view.recoveries:
        line("↻", "bold cyan", "recovered from OOM: " + describe_recovery(view, rec))
    for alert in view.alerts[-6:]:
        resolved = alert_resolved(view, alert)
        mark, style = ("✓", "green") if resolved else ("⚠", "bold yellow")
        suffix = " (resolved)" if resolved else ""
        line(mark, style, f"{alert.get('kind', 'alert')} at step {alert.get('step', '?')}{suffix}: {alert.get('message', '')}",
             f"try: {alert['advice']}" if alert.get("advice") and not resolved else None)
    return out


class RunNotes(Static):
    """Shows `notes_text`; empty (and hidden by CSS) when there is nothing to say."""

    def show(self, view: RunView, *, run_id: str, liveness: str, oom_choice: str | None) -> None:
        text = notes_text(view, run_id=run_id, liveness=liveness, oom_choice=oom_choice)
        self.update(text)
        self.set_class(not text.plain, "-empty")
