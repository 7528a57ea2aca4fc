"""Hosted runs in the same run-folder layout as local training: check, estimate, upload, create the job,
then follow it (detached by default). The folder holds `config.yaml` (TrainConfig fields, so every view
reads it like a local run's), `hosted.yaml` (provider, model, job id, file ids, hyperparameters, the
estimate, base URL and poll interval: never the key), `events.jsonl`, `state.json` and `train.log`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from core.errors import TunewizError
from core.events import EventWriter
from core.hosted.api import Backoff, call_with_backoff, error_message, make_api, redact, require_sdk
from core.hosted.checks import CheckReport, check_file
from core.hosted.estimate import Estimate, estimate_cost, parse_epochs
from core.hosted.follower import (
    DEFAULT_POLL_INTERVAL, Follower, RunLog, hosted_file, read_hosted, write_hosted,
)
from core.hosted.providers import Provider, get_provider
from core.runs import RunDir, new_run_id, pid_alive, send_command

# Hyperparameters each provider accepts: name -> kind ("int", "float", "str", "bool", "int|auto", ...).
ACCEPTED: dict[str, dict[str, str]] = {
    "openai": {"n_epochs": "int|auto", "batch_size": "int|auto", "learning_rate_multiplier": "float|auto",
               "suffix": "str", "seed": "int"},
    "together": {"n_epochs": "int", "batch_size": "int|max", "learning_rate": "float", "lora": "bool",
                 "lora_r": "int", "lora_alpha": "int", "lora_dropout": "float", "lora_trainable_modules": "str",
                 "n_evals": "int", "n_checkpoints": "int", "suffix": "str", "seed": "int", "warmup_ratio": "float"},
}
SUFFIX_LIMIT = {"openai": 64, "together": 40}


def is_hosted_run(run: RunDir) -> bool:
    """True for a run folder made by a hosted backend (route `stop`/`resume` here, not to the trainer)."""
    return hosted_file(run).exists()


def resolve_api_key(provider: str | Provider, *, interactive: bool | None = None) -> str:
    """The key from the provider's environment variable, else a masked prompt on a terminal."""
    prov = provider if isinstance(provider, Provider) else get_provider(provider)
    key = os.environ.get(prov.key_env, "").strip()
    if key:
        return key
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        import getpass

        key = getpass.getpass(f"{prov.title} API key (input hidden; set {prov.key_env} to skip): ").strip()
        if key:
            return key
    raise TunewizError(f"no {prov.title} API key", hint=f"export {prov.key_env}=... (it is never written to disk)")


def validate_hyperparameters(provider: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check `hyperparameters` against what the provider accepts; unknown names are errors."""
    accepted = ACCEPTED[provider]
    out: dict[str, Any] = {}
    for name, value in (hyperparameters or {}).items():
        if value is None:
            continue
        kind = accepted.get(name)
        if kind is None:
            raise TunewizError(f"{provider} does not accept the hyperparameter {name!r}",
                               hint=f"accepted: {', '.join(accepted)}")
        out[name] = _coerce(name, value, kind)
    if "suffix" in out and len(out["suffix"]) > SUFFIX_LIMIT[provider]:
        raise TunewizError(f"suffix: at most {SUFFIX_LIMIT[provider]} characters for {provider}")
    return out


def _coerce(name: str, value: Any, kind: str) -> Any:
    text = str(value).strip()
    for alt in ("auto", "max"):
        if f"|{alt}" in kind and text.lower() == alt:
            return alt
    base = kind.split("|")[0]
    try:
        if base == "int":
            number = int(float(text))
            if number < 0 or (number == 0 and name not in ("n_evals", "seed")):
                raise ValueError
            return number
        if base == "float":
            number = float(text)
            if number < 0:
                raise ValueError
            return number
        if base == "bool":
            if isinstance(value, bool):
                return value
            if text.lower() in ("true", "yes", "1", "on"):
                return True
            if text.lower() in ("false", "no", "0", "off"):
                return False
            raise ValueError
    except ValueError:
        raise TunewizError(f"{name}: expected {kind.replace('|', ' or ')}, got {value!r}") from None
    return text


def hyperparameters_from_config(provider: str, config: Any) -> dict[str, Any]:
    """Map a TrainConfig onto what the provider accepts (for `tunewiz train` with a hosted backend)."""
    if provider == "openai":
        return {"n_epochs": int(config.epochs), "seed": config.seed}
    hp = {"n_epochs": int(config.epochs), "learning_rate": config.learning_rate, "seed": config.seed,
          "lora": config.method != "full"}
    if config.method != "full":
        hp.update(lora_r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout)
    return hp


def format_issues(report: CheckReport, limit: int = 10) -> str:
    lines = []
    for item in report.errors[:limit]:
        where = f"{report.path}:{item['line']}" if item["line"] else report.path
        field = f" {item['field']}:" if item["field"] else ""
        lines.append(f"  {where}:{field} {item['message']} [{item['code']}]")
    if len(report.errors) > limit:
        lines.append(f"  ... and {len(report.errors) - limit} more")
    return "\n".join(lines)


def check_inputs(provider: str, train_file: str | Path, val_file: str | Path | None, model: str,
                 tokenizer: str = "auto") -> tuple[CheckReport, CheckReport | None]:
    """Provider checks on both files; raises TunewizError listing the errors (file:line: field: message)."""
    train = check_file(provider, train_file, model=model, tokenizer=tokenizer)
    val = check_file(provider, val_file, model=model, tokenizer=tokenizer, validation=True) if val_file else None
    bad = [r for r in (train, val) if r is not None and not r.ok]
    if bad:
        count = sum(len(r.errors) for r in bad)
        raise TunewizError(f"{count} problem(s) for {get_provider(provider).title}:\n"
                           + "\n".join(format_issues(r) for r in bad),
                           hint=f"`tunewiz hosted check --provider {provider} FILE` lists every problem")
    return train, val


def _train_config(provider: str, model: str, train_file: Path, val_file: Path | None, epochs: int,
                  hp: dict[str, Any]) -> dict[str, Any]:
    """TrainConfig-compatible fields describing the hosted job (so views show model, data, epochs)."""
    from core.config import TrainConfig

    values: dict[str, Any] = {"base_model": model, "train_file": str(train_file),
                              "val_file": str(val_file) if val_file else None, "epochs": epochs}
    if provider == "together":
        values["method"] = "lora" if hp.get("lora", True) else "full"
        values["bits"] = 16
        for src, dst in (("learning_rate", "learning_rate"), ("lora_r", "lora_r"), ("lora_alpha", "lora_alpha"),
                         ("lora_dropout", "lora_dropout")):
            if hp.get(src) is not None:
                values[dst] = hp[src]
        if isinstance(hp.get("batch_size"), int):
            values["batch_size"] = hp["batch_size"]
            values["grad_accum"] = 1
    elif isinstance(hp.get("batch_size"), int):
        values["batch_size"] = hp["batch_size"]
        values["grad_accum"] = 1
    if hp.get("seed") is not None:
        values["seed"] = hp["seed"]
    return TrainConfig(**values).model_dump(mode="json")


def start_hosted_run(provider: str, train_file: str | Path, *, val_file: str | Path | None = None,
                     model: str | None = None, hyperparameters: dict[str, Any] | None = None,
                     runs_dir: str | Path, base_url: str | None = None, detach: bool = True,
                     api_key: str | None = None, poll_interval: float = DEFAULT_POLL_INTERVAL,
                     backoff: Backoff | None = None, tokenizer: str = "auto",
                     echo: Callable[[str], None] | None = None) -> RunDir:
    """Check the data, create the run folder, upload, create the job and follow it.

    `detach=True` starts the follower in its own session and returns at once; `detach=False` follows in
    this process until the job ends. The key comes from `api_key` or the environment (see
    `resolve_api_key`) and is never written anywhere. Raises TunewizError before anything is spent when
    the data breaks the provider's rules or a hyperparameter is not accepted."""
    prov = get_provider(provider)
    require_sdk(prov)
    model = model or prov.default_model
    hp = validate_hyperparameters(prov.name, hyperparameters or {})
    epochs_choice = parse_epochs(hp.get("n_epochs", "auto" if prov.name == "openai" else 1))
    train_file = Path(train_file).resolve()
    val_file = Path(val_file).resolve() if val_file else None
    train_report, val_report = check_inputs(prov.name, train_file, val_file, model, tokenizer)
    estimate = estimate_cost(prov.name, train_report, val=val_report, model=model, epochs=epochs_choice,
                             n_evals=int(hp.get("n_evals", 0)), lora=bool(hp.get("lora", True)), tokenizer=tokenizer)
    key = api_key or resolve_api_key(prov)
    backoff = backoff or Backoff()

    run = RunDir(Path(runs_dir).resolve() / new_run_id(prov.name))
    run.path.mkdir(parents=True)
    run.control.mkdir()
    import yaml

    config = _train_config(prov.name, model, train_file, val_file, estimate.epochs, hp)
    run.config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    settings: dict[str, Any] = {
        "provider": prov.name, "model": model, "job_id": None, "base_url": base_url,
        "train_file": str(train_file), "val_file": str(val_file) if val_file else None,
        "training_file_id": None, "validation_file_id": None, "hyperparameters": hp,
        "epochs": estimate.epochs, "estimate": estimate.to_json(), "poll_interval": poll_interval,
        "backoff": {"base": backoff.base, "max": backoff.maximum}, "created": time.time(),
    }
    write_hosted(run, settings)
    writer = EventWriter(run.events)
    log = RunLog(run, key, echo)
    writer.emit("run_started", run_id=run.run_id, config=config, backend=prov.name, pid=os.getpid(),
                resumed_from=None, provider=prov.name, model=model, estimate=estimate.to_json())
    run.write_state(status="pending", pid=os.getpid(), step=0, backend=prov.name, provider=prov.name,
                    model=model, job_id=None, started_at=time.time())
    api = make_api(prov.name, key, base_url)
    retry_log = lambda why, wait: log(f"{why}; retrying in {wait:.2f}s")  # noqa: E731
    try:
        log(f"uploading {train_file.name} to {prov.title}")
        settings["training_file_id"] = call_with_backoff(lambda: api.upload(str(train_file)), backoff, on_retry=retry_log)
        if val_file:
            log(f"uploading {val_file.name}")
            settings["validation_file_id"] = call_with_backoff(lambda: api.upload(str(val_file)), backoff,
                                                               on_retry=retry_log)
        write_hosted(run, settings)
        create_hp = dict(hp)
        if prov.name == "together":
            create_hp["n_epochs"] = estimate.epochs
        log(f"creating the fine-tuning job on {model}")
        settings["job_id"] = call_with_backoff(
            lambda: api.create_job(model=model, training_file=settings["training_file_id"],
                                   validation_file=settings["validation_file_id"], hyperparameters=create_hp),
            backoff, on_retry=retry_log)
    except TunewizError as exc:
        writer.emit("failed", error=redact(exc.message, key), hint=exc.hint)
        run.write_state(status="failed", pid=None, step=0, backend=prov.name, provider=prov.name, model=model)
        raise
    except Exception as exc:  # noqa: BLE001 - the provider's error, reported in the run and to the caller
        message = error_message(exc, key)
        writer.emit("failed", error=f"could not create the job: {message}",
                    hint="nothing is training; fix the problem and start again")
        run.write_state(status="failed", pid=None, step=0, backend=prov.name, provider=prov.name, model=model)
        raise TunewizError(f"{prov.title}: could not create the job: {message}") from None
    write_hosted(run, settings)
    state = run.read_state()
    state.update(job_id=settings["job_id"], status="running")
    run.write_state(**state)
    log(f"job {settings['job_id']} created")
    if detach:
        spawn_follower(run, key)
    else:
        Follower(run, api, poll_interval=poll_interval, backoff=backoff, echo=echo).run_forever()
    return run


def spawn_follower(run: RunDir, api_key: str) -> int:
    """Start the follower in its own session (a terminal hangup does not reach it); the key goes through
    a pipe to its stdin, not its environment or command line. Returns its pid."""
    import core

    settings = read_hosted(run)
    prov = get_provider(settings["provider"])
    env = {k: v for k, v in os.environ.items() if k != prov.key_env}
    package_root = str(Path(core.__file__).resolve().parents[1])
    env["PYTHONPATH"] = package_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(run.log, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.hosted", str(run.path)],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(run.path),
            start_new_session=True, close_fds=True,
        )
    assert proc.stdin is not None
    proc.stdin.write((api_key + "\n").encode())
    proc.stdin.close()
    state = run.read_state()
    state.update(pid=proc.pid, status="running")
    run.write_state(**state)
    return proc.pid


def follower_alive(run: RunDir) -> bool:
    """True while this run's follower process lives (not a zombie, not a reused pid, not this process)."""
    state = run.read_state()
    pid = state.get("pid")
    if state.get("status") not in ("running", "pending") or not pid_alive(pid) or pid == os.getpid():
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            return b"core.hosted" in (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
    return True


def follow_run(run: RunDir, *, api_key: str | None = None, detach: bool = True,
               echo: Callable[[str], None] | None = None, poll_interval: float | None = None) -> str:
    """Re-attach to a hosted run whose follower is gone (the job keeps running at the provider).
    Returns "already-following", "started" (detached) or the final status (foreground)."""
    settings = read_hosted(run)
    if not settings.get("job_id"):
        raise TunewizError(f"{run.run_id} is not a hosted run with a job", exit_code=2)
    if follower_alive(run):
        return "already-following"
    key = api_key or resolve_api_key(settings["provider"])
    view = run.view()
    EventWriter(run.events).emit("run_started", run_id=run.run_id, config=view.config, backend=settings["provider"],
                                 pid=os.getpid(), resumed_from=view.step, provider=settings["provider"],
                                 model=settings.get("model"))
    if detach:
        spawn_follower(run, key)
        return "started"
    api = make_api(settings["provider"], key, settings.get("base_url"))
    return Follower(run, api, echo=echo, poll_interval=poll_interval).run_forever()


def cancel_run(run: RunDir, *, api_key: str | None = None) -> str:
    """Cancel a hosted job. With a live follower this sends it `stop` (it cancels and writes `stopped`);
    otherwise it cancels through the API here and writes `stopped` itself. Returns "sent", "cancelled"
    or "already-ended"."""
    settings = read_hosted(run)
    if not settings:
        raise TunewizError(f"{run.run_id} is not a hosted run", exit_code=2)
    view = run.view()
    if not view.is_active and view.status != "pending":
        return "already-ended"
    if follower_alive(run):
        send_command(run, "stop")
        return "sent"
    if not settings.get("job_id"):
        EventWriter(run.events).emit("stopped", step=view.step, reason="cancelled before the job was created")
        return "cancelled"
    key = api_key or resolve_api_key(settings["provider"])
    api = make_api(settings["provider"], key, settings.get("base_url"))
    try:
        status = call_with_backoff(lambda: api.cancel(settings["job_id"]), Backoff(attempts=5))
    except Exception as exc:  # noqa: BLE001
        raise TunewizError(f"could not cancel {settings['job_id']}: {error_message(exc, key)}") from None
    RunLog(run, key)(f"cancelled job {settings['job_id']} (provider status: {status})")
    EventWriter(run.events).emit("stopped", step=view.step, reason="cancelled")
    state = run.read_state()
    state.update(status="stopped", pid=None)
    run.write_state(**state)
    return "cancelled"


def estimate_for(provider: str, train_file: str | Path, **kwargs: Any) -> Estimate:
    """Shortcut used by the CLI and the screen."""
    return estimate_cost(provider, train_file, **kwargs)
