"""One trainer process: read the frozen config (plus OOM overrides from state.json), pick the backend,
train with events, recover from out-of-memory errors, and finish with an adapter (or model), a clear
stop, or a readable failure. `python -m core.train.worker RUN_DIR` runs this in its own session."""

from __future__ import annotations

import errno
import logging
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from core.config import TrainConfig, load_config
from core.errors import TunewizError
from core.runs import RunDir, take_commands
from core.train import oom as oom_mod
from core.train import telemetry
from core.train.backends import create_backend, resolve_backend_name
from core.train.context import RunContext


class _OptionalKernelNotice(logging.Filter):
    """bitsandbytes warns on every CPU run that an optional accelerated kernel package (`kernels`) is
    missing; its fallback works, and the line alarms first-time users reading train.log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "from kernels-community" not in str(record.msg)


logging.getLogger("bitsandbytes.backends.cpu.ops").addFilter(_OptionalKernelNotice())

OOM_POLL_S = 0.5
_SECRET = re.compile(r"\b(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{20,}|ghp_[A-Za-z0-9]{20,})\b")


def redact(text: str) -> str:
    """Hide access tokens (HF_TOKEN and the like) from anything written to the run folder."""
    text = _SECRET.sub("[redacted]", text)
    for key, value in os.environ.items():
        if value and len(value) >= 12 and any(w in key.upper() for w in ("TOKEN", "SECRET", "API_KEY", "PASSWORD")):
            text = text.replace(value, "[redacted]")
    return text


def checkpoint_step(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return -1


def latest_checkpoint(run: RunDir) -> Path | None:
    """The newest complete checkpoint (one whose trainer_state.json was written, which happens last)."""
    if not run.checkpoints.is_dir():
        return None
    done = [p for p in run.checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()]
    return max(done, key=checkpoint_step) if done else None


def read_frozen_config(run: RunDir) -> TrainConfig:
    import yaml

    try:
        data = yaml.safe_load(run.config_file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise TunewizError(f"{run.config_file}: missing; this folder is not a complete run") from None
    return load_config(data, str(run.config_file))


def effective_config(run: RunDir, state: dict[str, Any] | None = None) -> TrainConfig:
    """The frozen config with the OOM recoveries applied so far (state.json `overrides`)."""
    state = run.read_state() if state is None else state
    config = read_frozen_config(run)
    overrides = state.get("overrides") or {}
    return load_config({**config.model_dump(), **overrides}, f"{run.config_file} + overrides") if overrides else config


class Engine:
    """Drives a backend through a whole run, including OOM recoveries in the same process."""

    def __init__(self, run: RunDir, *, resume: bool = False, install_signals: bool = True):
        self.run = run
        self.resume = resume
        self.state = run.read_state()
        self.state.setdefault("run_id", run.run_id)
        self.config = effective_config(run, self.state)
        self.ctx = RunContext(run, self.state, warmup_steps=self.config.warmup_steps, early_stop=self.config.early_stop)
        if install_signals:
            self.ctx.install_signal_handlers()

    def execute(self) -> int:
        """Run to the end; returns the process exit code (0 finished or stopped on request)."""
        try:
            return self._execute()
        except TunewizError as exc:
            return self._fail(exc.message, exc.hint, 2)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                kept = latest_checkpoint(self.run)
                return self._fail(
                    f"disk full while saving ({exc.strerror}); "
                    + (f"the previous checkpoint {kept.name} is intact" if kept else "no checkpoint was saved yet"),
                    f"free some space, then `tunewiz resume {self.run.run_id}`", 1)
            traceback.print_exc()
            return self._fail(f"{type(exc).__name__}: {exc}", "see train.log in the run folder", 1)
        except Exception as exc:
            traceback.print_exc()
            return self._fail(f"{type(exc).__name__}: {exc}", "see train.log in the run folder", 1)

    def _fail(self, error: str, hint: str | None, code: int) -> int:
        self.ctx.emit("failed", error=redact(error), hint=redact(hint) if hint else None)
        self._end_state(status="failed", error=redact(error))
        print(f"tunewiz: run failed: {redact(error)}", file=sys.stderr, flush=True)
        return code

    def _end_state(self, **fields: Any) -> None:
        """The trainer is ending: no live pid any more (views then know nothing is running)."""
        self.ctx.save_state(pid=None, finished=round(time.time(), 3), **fields)

    def _execute(self) -> int:
        ctx, run = self.ctx, self.run
        ckpt = latest_checkpoint(run) if self.resume else None
        if self.resume and ckpt is None and self.state.get("step"):
            print("tunewiz: no complete checkpoint to resume from; starting from step 0", file=sys.stderr)
        backend_name = resolve_backend_name(self.config)
        ctx.save_state(status="running", pid=os.getpid(), backend=backend_name, started=self.state.get("started") or round(time.time(), 3))
        ctx.emit("run_started", run_id=run.run_id, config=self.config.model_dump(mode="json"), backend=backend_name,
                 pid=os.getpid(), resumed_from=checkpoint_step(ckpt) if ckpt else None,
                 world_size=ctx.world_size)
        while True:
            backend = create_backend(backend_name, self.config, run, ctx, max_steps=self.state.get("total_steps"))
            try:
                info = backend.setup()
                estimate = oom_mod.estimate_gb(self.config)
                peak = backend.preflight() if os.environ.get("TUNEWIZ_PREFLIGHT", "1") != "0" else None
                ctx.emit("model_loaded", **info, estimate_gb=estimate, preflight_peak_gb=peak)
                result = backend.train(ckpt)
            except BaseException as exc:
                if not oom_mod.is_oom(exc):
                    backend.cleanup()
                    raise
                new_config = self._handle_oom(exc, backend)
                if new_config is None:
                    return 1
                self.config = new_config
                ckpt = latest_checkpoint(run)
                continue
            return self._finish(backend, result)

    def _finish(self, backend, result) -> int:
        ctx = self.ctx
        ctx.emit("gpu", **telemetry.sample())
        try:
            reason = ctx.stop_reason
            if reason in ("requested", "signal", "nan_loss"):
                kept = latest_checkpoint(self.run)
                ctx.emit("stopped", step=result.step, reason=reason, checkpoint=str(kept) if kept else None)
                self._end_state(status="stopped", step=result.step, stop_reason=reason)
                return 0 if reason != "nan_loss" else 1
            out_dir = self.run.model if self.config.method == "full" else self.run.adapter
            output = backend.save(out_dir)
            ctx.emit("finished", step=result.step, output=str(output), final_loss=result.final_loss,
                     early_stopped=reason == "overfitting")
            self._end_state(status="finished", step=result.step, output=str(output))
            return 0
        finally:
            backend.cleanup()

    # --- out of memory -----------------------------------------------------------------------
    def _handle_oom(self, exc: BaseException, backend) -> TrainConfig | None:
        ctx, config = self.ctx, self.config
        where, step = ctx.where if ctx.where != "setup" else "train", backend.global_step
        peak, _ = telemetry.peak_memory_gb()
        print(f"tunewiz: out of memory during {where} at step {step}: {str(exc).splitlines()[0] if str(exc) else ''}",
              file=sys.stderr, flush=True)
        if where != "checkpoint":
            try:
                saved = backend.save_checkpoint()
                if saved is not None and ctx.state.get("last_checkpoint") != str(saved):
                    ctx.on_checkpoint(step, str(saved))
            except Exception as save_exc:  # the previous checkpoint is still there
                print(f"tunewiz: could not checkpoint after the OOM ({save_exc}); using the previous one", file=sys.stderr)
        lengths = backend.dataset_lengths()
        backend.cleanup()
        del exc
        options = oom_mod.ranked_options(config, lengths=lengths, peak_gb=peak, cuda=telemetry.cuda_available())
        used = int(ctx.state.get("oom_recoveries", 0))
        mode = config.on_oom
        if mode == "auto" and used >= config.oom_retries:
            print(f"tunewiz: {used} automatic OOM recoveries used (oom_retries={config.oom_retries}); stopping",
                  file=sys.stderr)
            mode = "stop"
        ctx.emit("oom", step=step, where=where, batch_size=config.batch_size, max_seq_length=config.max_seq_length,
                 estimate_gb=oom_mod.estimate_gb(config), peak_gb=peak, options=options, mode=mode,
                 waiting=mode == "ask")
        ctx.save_state(status="waiting_oom" if mode == "ask" else ctx.state.get("status", "running"), step=step)
        if mode == "auto":
            choice = oom_mod.best_auto_option(options)
        elif mode == "ask":
            choice = self._wait_for_choice(options)
            if choice is None:  # stopped while waiting
                kept = latest_checkpoint(self.run)
                ctx.emit("stopped", step=step, reason="requested", checkpoint=str(kept) if kept else None)
                self._end_state(status="stopped", step=step, stop_reason="requested")
                return None
        else:
            choice = None
        if choice is None or not choice["changes"]:
            ids = ", ".join(o["id"] for o in options if o["changes"])
            hint = (f"apply an option and continue: `tunewiz resume {self.run.run_id} --option ID` (options: {ids})"
                    if ids else "pick a smaller base model in the Plan step")
            if choice is not None:
                hint = f"{choice['label']}"
            self._fail(f"out of memory during {where} at step {step} (batch {config.batch_size}, "
                       f"max_seq_length {config.max_seq_length})", hint, 1)
            return None
        overrides = {**(ctx.state.get("overrides") or {}), **choice["changes"]}
        new_config = load_config({**config.model_dump(), **choice["changes"]}, "OOM recovery")
        kept = latest_checkpoint(self.run)
        resume_step = checkpoint_step(kept) if kept else 0
        ctx.save_state(overrides=overrides, oom_recoveries=used + 1, status="running")
        ctx.emit("recovered", option=choice["id"], changes=choice["changes"], step=resume_step)
        ctx.where = "setup"
        return new_config

    def _wait_for_choice(self, options: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Ask mode: wait for an `oom_choice` command naming one of the options (or `stop`)."""
        by_id = {o["id"]: o for o in options}
        while True:
            for cmd in take_commands(self.run):
                if cmd.get("command") == "oom_choice" and cmd.get("option") in by_id:
                    return by_id[cmd["option"]]
                if cmd.get("command") == "oom_choice":
                    print(f"tunewiz: ignoring unknown OOM option {cmd.get('option')!r}", file=sys.stderr, flush=True)
                if cmd.get("command") == "stop":
                    return None
            if self.ctx.stop_reason == "signal":
                return None
            time.sleep(OOM_POLL_S)
