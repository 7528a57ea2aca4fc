"""Starting, resuming and steering runs from any view (CLI, wizard). The trainer always runs as its
own process in its own session (stdin from /dev/null, stdout/stderr to train.log), so a dropped SSH
connection, a closed terminal or a crashed UI never touches it.

API for views:
- `start_run(config, runs_dir=..., project_root=None, project=None, detach=True) -> RunDir`
- `resume_run(run, option=None, detach=True) -> RunDir`
- `stop_run(run)`, `pause_run(run)`, `unpause_run(run)`, `save_now(run)`, `choose_oom_option(run, option_id)`
- `trainer_alive(run)`, `run_status(run, view=None)`, `run_summary(run)`, `runs_summary(runs_dir)`
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from core.config import TrainConfig
from core.errors import TunewizError
from core.runs import RunDir, new_run_id, pid_alive, send_command, write_json_atomic

CPU_DDP_ENV = "TUNEWIZ_ALLOW_CPU_DDP"  # lets gpus>1 run as CPU processes (gloo): tests and demos
ACCELERATE_CONFIG_ENV = "TUNEWIZ_ACCELERATE_CONFIG"  # an accelerate config file for FSDP/DeepSpeed
_children: dict[int, subprocess.Popen] = {}  # trainers this process spawned, so they can be reaped


def _resolve_local(value: str | None, root: Path) -> str | None:
    if not value:
        return value
    path = Path(value).expanduser()
    candidate = path if path.is_absolute() else root / path
    return str(candidate.resolve()) if candidate.exists() else value


def freeze_config(config: TrainConfig, project_root: str | Path | None = None) -> TrainConfig:
    """The config as frozen into a run: train_file, val_file and base_model made absolute when they
    are local files or folders (relative to `project_root`, default the current folder)."""
    root = Path(project_root or os.getcwd()).resolve()
    changes = {name: _resolve_local(getattr(config, name), root) for name in ("train_file", "val_file", "base_model")}
    frozen = config.model_copy(update=changes)
    if not Path(frozen.train_file).exists():
        raise TunewizError(f"train_file {config.train_file!r} not found (looked in {root})",
                           hint="run the Data step, or pass --set train_file=PATH")
    if frozen.val_file and not Path(frozen.val_file).exists():
        raise TunewizError(f"val_file {config.val_file!r} not found (looked in {root})",
                           hint="set val_file to an existing file, or to an empty value to skip evaluation")
    return frozen


def write_config_yaml(path: Path, config: TrainConfig) -> None:
    import yaml

    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True), encoding="utf-8")
    os.replace(tmp, path)


def launcher_command(config: TrainConfig) -> list[str]:
    """The interpreter (or `accelerate launch`) command that runs `core.train.worker`."""
    if config.gpus <= 1:
        return [sys.executable, "-m", "core.train.worker"]
    from core.train.backends import cuda_available

    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(config.gpus),
           "--num_machines", "1", "--main_process_port", str(_free_port())]
    if cuda_available():
        import torch

        have = torch.cuda.device_count()
        if have < config.gpus:
            raise TunewizError(f"gpus: {config.gpus} requested but this machine has {have} CUDA device(s)",
                               hint=f"set gpus: {have}")
    elif os.environ.get(CPU_DDP_ENV) != "1":
        raise TunewizError(f"gpus: {config.gpus} needs CUDA devices and none is available", hint="set gpus: 1")
    acc_config = os.environ.get(ACCELERATE_CONFIG_ENV)
    cmd += ["--config_file", acc_config] if acc_config else ["--multi_gpu", "--mixed_precision", "no"]
    return cmd + ["-m", "core.train.worker"]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn(run: RunDir, config: TrainConfig, *, resume: bool) -> subprocess.Popen:
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cmd = launcher_command(config) + [str(run.path)] + (["--resume"] if resume else [])
    with open(run.log, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"\n==== tunewiz trainer {'resume' if resume else 'start'} {time.strftime('%Y-%m-%d %H:%M:%S')} ====\n".encode())
        log.flush()
        proc = subprocess.Popen(cmd, stdin=devnull, stdout=log, stderr=subprocess.STDOUT, cwd=str(run.path),
                                env=env, start_new_session=True, close_fds=True)
    _children[proc.pid] = proc
    return proc


def _record_active_run(run: RunDir, project, project_root) -> None:
    if project is None and project_root is not None:
        from core.project import PROJECT_FILE, Project

        if (Path(project_root) / PROJECT_FILE).exists():
            project = Project(project_root)
    if project is None:
        return
    train = dict(project.state.train)
    train["active_run"] = run.run_id
    train["runs_dir"] = str(run.path.parent)
    project.state.train = train
    project.save()


def start_run(config: TrainConfig, *, runs_dir: str | Path, project_root: str | Path | None = None,
              project=None, detach: bool = True) -> RunDir:
    """Create `runs_dir/<run-id>/` (frozen config.yaml, empty events.jsonl, state.json) and start
    the trainer. `detach=True` (views): spawn it in its own session and return at once.
    `detach=False`: train in this process and return when done (smoke test, benchmarks).
    With `project` (a `core.project.Project`) or a `project_root` holding tunewiz.yaml, records
    `state.train["active_run"]` and saves the project."""
    root = Path(project.root if project is not None else (project_root or os.getcwd()))
    frozen = freeze_config(config, root)
    if detach:
        launcher_command(frozen)  # fail before creating a run folder (e.g. gpus > available)
    runs_dir = Path(runs_dir).resolve()
    run = RunDir(runs_dir / new_run_id())
    while run.path.exists():
        run = RunDir(runs_dir / new_run_id())
    run.path.mkdir(parents=True)
    run.checkpoints.mkdir()
    run.control.mkdir()
    write_config_yaml(run.config_file, frozen)
    run.events.touch()
    now = round(time.time(), 3)
    run.write_state(run_id=run.run_id, status="starting", pid=None, step=0, total_steps=None,
                    last_checkpoint=None, created=now, updated=now, overrides={}, oom_recoveries=0)
    _record_active_run(run, project, project_root if project is None else None)
    if not detach:
        _run_here(run, resume=False)
        return run
    proc = _spawn(run, frozen, resume=False)
    _update_state(run, pid=proc.pid)
    return run


def _run_here(run: RunDir, *, resume: bool) -> int:
    from core.train.engine import Engine

    # In-process runs leave the caller's signal handlers alone (Ctrl-C still interrupts).
    return Engine(run, resume=resume, install_signals=False).execute()


def _update_state(run: RunDir, **fields: Any) -> None:
    state = run.read_state()
    if state.get("status") == "starting" or "pid" in fields:
        state.update(fields)
        write_json_atomic(run.state_file, state)


def resume_run(run: RunDir, *, option: str | None = None, detach: bool = True) -> RunDir:
    """Continue a run that is not running (killed, stopped, failed after an OOM) from its newest
    complete checkpoint. `option`: an OOM option id from the run's last `oom` event to apply first."""
    from core.train.engine import effective_config

    if trainer_alive(run):
        raise TunewizError(f"run {run.run_id} is still running (pid {run.read_state().get('pid')})",
                           hint="`tunewiz stop` it first, or attach to it")
    state = run.read_state()
    if state.get("status") == "finished":
        raise TunewizError(f"run {run.run_id} already finished", hint="start a new run with `tunewiz train`")
    if option:
        chosen = _find_option(run, option)
        state["overrides"] = {**(state.get("overrides") or {}), **chosen["changes"]}
    state.update(status="starting", pid=None, error=None)
    write_json_atomic(run.state_file, state)
    config = effective_config(run, state)
    if not detach:
        _run_here(run, resume=True)
        return run
    proc = _spawn(run, config, resume=True)
    _update_state(run, pid=proc.pid)
    return run


def _find_option(run: RunDir, option: str) -> dict[str, Any]:
    view = run.view()
    last = view.ooms[-1] if view.ooms else None
    options = {o["id"]: o for o in (last or {}).get("options", [])}
    if option not in options or not options[option].get("changes"):
        known = ", ".join(k for k, o in options.items() if o.get("changes")) or "none (the run has no OOM)"
        raise TunewizError(f"unknown OOM option {option!r} for run {run.run_id}", hint=f"options: {known}")
    return options[option]


def trainer_alive(run: RunDir) -> bool:
    """Is the run's trainer process alive (reaping it first if this process spawned it)?"""
    pid = run.read_state().get("pid")
    if not pid:
        return False
    proc = _children.get(int(pid))
    if proc is not None:
        return proc.poll() is None
    return pid_alive(pid) and not _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _require_alive(run: RunDir, what: str) -> None:
    if not trainer_alive(run):
        raise TunewizError(f"run {run.run_id} is not running, nothing to {what}",
                           hint=f"`tunewiz resume {run.run_id}` continues it from its last checkpoint")


def stop_run(run: RunDir) -> Path:
    """Ask the trainer to save a checkpoint and stop (it answers with `checkpoint` and `stopped` events)."""
    _require_alive(run, "stop")
    return send_command(run, "stop")


def pause_run(run: RunDir) -> Path:
    _require_alive(run, "pause")
    return send_command(run, "pause")


def unpause_run(run: RunDir) -> Path:
    _require_alive(run, "resume")
    return send_command(run, "resume")


def save_now(run: RunDir) -> Path:
    _require_alive(run, "save")
    return send_command(run, "save")


def choose_oom_option(run: RunDir, option: str) -> Path:
    """Answer a run waiting after an OOM (`on_oom: ask`) with one of its option ids."""
    _find_option(run, option)
    _require_alive(run, "answer")
    return send_command(run, "oom_choice", option=option)


def run_status(run: RunDir, view=None) -> str:
    """The view's status, but `interrupted` when the events say active and the process is gone."""
    view = view or run.view()
    state = run.read_state()
    if state.get("status") == "starting" and view.status == "pending":
        return "starting" if trainer_alive(run) or not state.get("pid") else "interrupted"
    if view.is_active and not trainer_alive(run):
        return "interrupted"
    return view.status


def run_summary(run: RunDir) -> dict[str, Any]:
    """The stable JSON shape `tunewiz runs --json` prints for one run."""
    view = run.view()
    state = run.read_state()
    return {
        "run_id": run.run_id, "path": str(run.path), "status": run_status(run, view),
        "step": view.step, "total_steps": view.total_steps or state.get("total_steps"),
        "loss": view.loss, "eval_loss": view.eval_losses[-1][1] if view.eval_losses else None,
        "backend": view.backend, "base_model": view.config.get("base_model"), "method": view.config.get("method"),
        "pid": state.get("pid"), "alive": trainer_alive(run), "last_checkpoint": view.last_checkpoint,
        "output": view.output, "alerts": len(view.alerts), "ooms": len(view.ooms),
        "created": state.get("created"), "updated": state.get("updated"), "error": view.error,
    }


def runs_summary(runs_dir: str | Path) -> list[dict[str, Any]]:
    from core.runs import list_runs

    return [run_summary(r) for r in list_runs(runs_dir)]
