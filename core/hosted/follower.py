"""The follower: polls a hosted job and writes what it finds into the run folder, the same way the local
trainer does, so every view (`tunewiz runs`, `watch`, the Train screen) shows a hosted job like a local run.

Mapping into `events.jsonl`: provider metrics -> `step` (loss, learning rate) and `eval` (eval_loss);
provider checkpoints -> `checkpoint`; the job starting to train -> `model_loaded`; success -> `finished`
with the fine-tuned model id in `output`; failure -> `failed` with the provider's error; cancellation ->
`stopped`. Provider messages go to `train.log`. `state.json` keeps the cursor (last provider event id or
event count, last metric step) so a restarted follower picks up where it left off.

It runs detached (`python -m core.hosted RUN_DIR`, its own session), reads the API key from its
stdin (never from disk), takes `stop` from the control channel (it cancels the job) and retries 429, 5xx
and dropped connections with backoff."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from core.events import EventWriter, read_events, RunView
from core.hosted.api import TERMINAL, Backoff, HostedAPI, call_with_backoff, classify, error_message, make_api, redact
from core.runs import RunDir, take_commands

HOSTED_FILE = "hosted.yaml"
DEFAULT_POLL_INTERVAL = 15.0


def hosted_file(run: RunDir) -> Path:
    return run.path / HOSTED_FILE


def read_hosted(run: RunDir) -> dict[str, Any]:
    import yaml

    try:
        return yaml.safe_load(hosted_file(run).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}


def write_hosted(run: RunDir, settings: dict[str, Any]) -> None:
    import tempfile

    import yaml

    text = yaml.safe_dump(settings, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=run.path, prefix=".hosted.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, hosted_file(run))


class RunLog:
    """Appends timestamped lines to the run's train.log, keys redacted."""

    def __init__(self, run: RunDir, secret: str | None = None, echo: Callable[[str], None] | None = None):
        self.path = run.log
        self.secret = secret
        self.echo = echo

    def __call__(self, text: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {redact(text, self.secret)}"
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
        if self.echo:
            self.echo(line)


class Follower:
    """Polls one job until it ends. `poll_interval` and `backoff` come from hosted.yaml unless given."""

    def __init__(self, run: RunDir, api: HostedAPI, *, poll_interval: float | None = None,
                 backoff: Backoff | None = None, echo: Callable[[str], None] | None = None):
        self.run = run
        self.api = api
        self.settings = read_hosted(run)
        self.poll_interval = float(poll_interval if poll_interval is not None
                                   else self.settings.get("poll_interval", DEFAULT_POLL_INTERVAL))
        b = self.settings.get("backoff") or {}
        self.backoff = backoff or Backoff(base=float(b.get("base", 2.0)), maximum=float(b.get("max", 300.0)),
                                          attempts=None)
        self.writer = EventWriter(run.events)
        self.log = RunLog(run, api.api_key, echo)
        self.echo = echo
        self.job_id = self.settings["job_id"]
        self.state = run.read_state()
        view: RunView = run.view()
        self.last_step = max(int(self.state.get("step") or 0), view.step)
        self.last_loss = view.loss
        self.total_steps = view.total_steps
        self.announced = bool(self.state.get("announced_running")) or bool(view.model)
        self.failures = 0
        self.failing_since = time.monotonic()

    # --- helpers ---------------------------------------------------------------------------------------
    def _save_state(self, **changes: Any) -> None:
        self.state.update(changes)
        self.state.update(step=self.last_step, pid=os.getpid(), updated=time.time())
        self.run.write_state(**self.state)

    def _sleep(self, seconds: float) -> None:
        """Sleep, waking early when a control command arrives."""
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            if self.run.control.is_dir() and any(self.run.control.glob("*.json")):
                return
            time.sleep(min(left, 0.25))

    def _epoch(self, step: int, total: int | None) -> float | None:
        epochs = self.settings.get("epochs")
        if total and isinstance(epochs, (int, float)):
            return round(step / total * epochs, 3)
        return None

    def _commands(self) -> None:
        for cmd in take_commands(self.run):
            name = cmd.get("command")
            if name == "stop":
                if self.state.get("cancel_sent"):
                    continue
                self.log(f"stop requested: cancelling job {self.job_id}")
                try:
                    status = call_with_backoff(lambda: self.api.cancel(self.job_id),
                                               Backoff(self.backoff.base, self.backoff.maximum, attempts=6),
                                               on_retry=lambda why, wait: self.log(f"cancel: {why}; retrying in {wait:.1f}s"))
                    self.log(f"cancel accepted (provider status: {status})")
                    self._save_state(cancel_sent=True)
                except Exception as exc:  # noqa: BLE001 - reported, the follower keeps following
                    self.log(f"cancel failed: {error_message(exc, self.api.api_key)}")
            elif name:
                self.log(f"{name}: not available for hosted jobs (the provider runs the training); ignored")

    # --- the loop --------------------------------------------------------------------------------------
    def run_forever(self) -> str:
        """Follow until the job ends; returns the final run status (finished, failed, stopped)."""
        self._save_state(status="running", backend=self.settings.get("provider"))
        self.log(f"following {self.settings.get('provider')} job {self.job_id} (poll every {self.poll_interval:g}s)")
        while True:
            self._commands()
            try:
                poll = self.api.poll(self.job_id, self.state.get("cursor") or {})
            except Exception as exc:  # noqa: BLE001 - classified below
                retry = classify(exc)
                if retry is None:
                    message = error_message(exc, self.api.api_key)
                    self.writer.emit("failed", error=f"lost contact with the job: {message}",
                                     hint="the job may still be running at the provider; "
                                          f"`tunewiz hosted follow {self.run.run_id}` re-attaches")
                    self._save_state(status="failed")
                    return "failed"
                self.failures += 1
                if self.failures == 1:
                    self.failing_since = time.monotonic()
                give_up = float(self.settings.get("give_up_after", 86_400))
                if time.monotonic() - self.failing_since > give_up:
                    self.writer.emit("failed", error=f"no answer from the provider for {give_up:.0f}s ({retry})",
                                     hint="the job may still be running at the provider; "
                                          f"`tunewiz hosted follow {self.run.run_id}` re-attaches")
                    self._save_state(status="failed")
                    return "failed"
                wait = self.backoff.delay(self.failures, retry.retry_after)
                self.log(f"poll: {retry}; retrying in {wait:.2f}s (attempt {self.failures})")
                self._save_state(retries=int(self.state.get("retries", 0)) + 1)
                self._sleep(wait)
                continue
            self.failures = 0
            result = self._apply(poll)
            if result:
                return result
            self._sleep(self.poll_interval)

    def _apply(self, poll) -> str | None:
        # Provider text can quote the key back (e.g. "Incorrect API key provided: sk-..."): redact it first.
        if poll.error:
            poll.error = redact(poll.error, self.api.api_key)
        for msg in poll.messages:
            msg["text"] = redact(str(msg.get("text")), self.api.api_key)
        for msg in poll.messages:
            level = msg.get("level") or "info"
            self.log(f"[{self.settings.get('provider')}:{level}] {msg.get('text')}")
        if poll.status in ("running", "succeeded") and not self.announced:
            self.writer.emit("model_loaded", params=poll.params, trainable_params=None, dtype=None,
                             device=f"{self.settings.get('provider')} (hosted)", backend=self.settings.get("provider"),
                             model=self.settings.get("model"))
            self.announced = True
            self.state["announced_running"] = True
        started = float(self.state.get("started_at") or time.time())
        for m in poll.metrics:
            step = int(m["step"])
            if m.get("total_steps"):
                self.total_steps = int(m["total_steps"])
            if step > self.last_step and m.get("loss") is not None:
                self.writer.emit("step", step=step, total_steps=self.total_steps,
                                 epoch=self._epoch(step, self.total_steps), loss=m["loss"],
                                 learning_rate=m.get("learning_rate"), grad_norm=None, tokens_per_s=None,
                                 elapsed=round(time.time() - started, 1), eta=poll.eta)
                self.last_step = step
                self.last_loss = m["loss"]
            if m.get("eval_loss") is not None and step >= self.last_step:
                self.writer.emit("eval", step=step, eval_loss=m["eval_loss"])
            if echo := self.echo:
                if m.get("loss") is not None:
                    total = f"/{self.total_steps}" if self.total_steps else ""
                    extra = f"  eval_loss {m['eval_loss']:.4f}" if m.get("eval_loss") is not None else ""
                    echo(f"step {step}{total}  loss {m['loss']:.4f}{extra}")
        for ckpt in poll.checkpoints:
            self.writer.emit("checkpoint", step=ckpt["step"], path=ckpt["path"])
            self.state["last_checkpoint"] = ckpt["path"]
        self._save_state(status="running", provider_status=poll.provider_status, cursor=poll.cursor,
                         loss=self.last_loss, total_steps=self.total_steps)
        if poll.status not in TERMINAL:
            return None
        if poll.status == "succeeded":
            self.writer.emit("finished", step=self.last_step, output=poll.model_id, final_loss=self.last_loss,
                             fine_tuned_model=poll.model_id, trained_tokens=poll.trained_tokens)
            self._save_state(status="finished", fine_tuned_model=poll.model_id, finished_at=time.time())
            self.log(f"finished: fine-tuned model {poll.model_id}")
            return "finished"
        if poll.status == "failed":
            error = poll.error or f"the {self.settings.get('provider')} job failed without an error message"
            self.writer.emit("failed", error=redact(error, self.api.api_key),
                             hint="fix what the provider reports (often the data) and start a new job")
            self._save_state(status="failed", error=error)
            self.log(f"failed: {error}")
            return "failed"
        reason = "cancelled" if self.state.get("cancel_sent") else "cancelled at the provider"
        self.writer.emit("stopped", step=self.last_step, reason=reason)
        self._save_state(status="stopped")
        self.log(f"stopped: {reason}")
        return "stopped"


def main(argv: list[str] | None = None) -> int:
    """Detached entry point: `python -m core.hosted RUN_DIR`; the API key arrives on stdin."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m core.hosted RUN_DIR", file=sys.stderr)
        return 2
    run = RunDir(Path(argv[0]).resolve())
    settings = read_hosted(run)
    key = ""
    if not sys.stdin.isatty():
        key = sys.stdin.readline().strip()
        sys.stdin.close()
    key = key or os.environ.get(f"{settings.get('provider', '').upper()}_API_KEY", "")
    if not key:
        EventWriter(run.events).emit("failed", error="the follower has no API key",
                                     hint=f"`tunewiz hosted follow {run.run_id}` with the key set re-attaches")
        return 2
    api = make_api(settings["provider"], key, settings.get("base_url"))
    Follower(run, api).run_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
