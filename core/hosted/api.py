"""The two providers behind one small interface: upload a file, create a job, poll it, cancel it, and
chat with a model (the Evaluate step's side-by-side generation for hosted runs).

The official SDKs (`openai`, `together`) are optional and imported only here, inside functions. Their own
retries are turned off (max_retries=0): `call_with_backoff` retries rate limits (429), server errors (5xx)
and dropped connections with exponential backoff, so one policy covers both providers and tests can make
it fast. `poll` returns only what is new since `cursor` (the last provider event id, event count and
metric step), so a follower that restarts picks up where it left off."""

from __future__ import annotations

import importlib.util
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from core.errors import TunewizError
from core.hosted.providers import Provider, get_provider

# Provider statuses folded to the run's: pending, running, cancelling, succeeded, failed, cancelled.
_STATUS = {
    "validating_files": "pending", "queued": "pending", "pending": "pending",
    "running": "running", "compressing": "running", "uploading": "running", "paused": "running",
    "cancel_requested": "cancelling",
    "succeeded": "succeeded", "completed": "succeeded",
    "failed": "failed", "error": "failed", "user_error": "failed",
    "cancelled": "cancelled",
}
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
_KEYLIKE = re.compile(r"\b(sk-[A-Za-z0-9_*\-]{6,}|tgp_v1_[A-Za-z0-9_*\-]{6,}|[A-Fa-f0-9]{64})\b")


class RetryableError(Exception):
    """A transient failure (429, 5xx, dropped connection); `retry_after` is the server's hint in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def redact(text: str, *secrets: str | None) -> str:
    """Remove API keys (the given ones, and anything shaped like one) from text bound for logs or events."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


def require_sdk(provider: Provider) -> None:
    if importlib.util.find_spec(provider.sdk_module) is None:
        raise TunewizError(
            f"the {provider.title} backend needs the `{provider.sdk_module}` package",
            hint=f"pip install {provider.pip_name}   (or: pip install 'tunewiz[hosted]')",
        )


@dataclass
class Backoff:
    """Exponential backoff: base, base*2, ... capped at `maximum` seconds; `attempts` None retries forever."""

    base: float = 2.0
    maximum: float = 300.0
    attempts: int | None = 8

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        wait = min(self.maximum, self.base * (2 ** max(0, failures - 1)))
        if retry_after is not None:
            wait = min(self.maximum, max(wait, retry_after))
        return wait


def classify(exc: BaseException) -> RetryableError | None:
    """A RetryableError for transient SDK/transport failures, None for everything else."""
    status = getattr(exc, "status_code", None)
    if status is None and getattr(exc, "response", None) is not None:
        status = getattr(exc.response, "status_code", None)
    if isinstance(status, int):
        if status == 429 or status == 408 or status >= 500:
            retry_after = None
            try:
                header = exc.response.headers.get("retry-after")
                retry_after = float(header) if header else None
            except (AttributeError, TypeError, ValueError):
                pass
            return RetryableError(f"HTTP {status}", retry_after)
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    transport = {"APIConnectionError", "APITimeoutError", "ConnectError", "ReadError", "RemoteProtocolError",
                 "ReadTimeout", "ConnectTimeout", "TransportError", "ConnectionError", "TimeoutError"}
    if names & transport:
        return RetryableError(f"connection problem ({type(exc).__name__})")
    return None


def call_with_backoff(fn: Callable[[], Any], backoff: Backoff, *, on_retry: Callable[[str, float], None] | None = None,
                      sleep: Callable[[float], None] = time.sleep) -> Any:
    """Call `fn`, retrying transient failures per `backoff`; other exceptions pass through."""
    failures = 0
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            retry = classify(exc)
            if retry is None:
                raise
            failures += 1
            if backoff.attempts is not None and failures > backoff.attempts:
                raise
            wait = backoff.delay(failures, retry.retry_after)
            if on_retry:
                on_retry(str(retry), wait)
            sleep(wait)


def error_message(exc: BaseException, *secrets: str | None) -> str:
    """The provider's own error text, without keys."""
    body = getattr(exc, "body", None)
    message = None
    if isinstance(body, dict):
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else str(err)
    status = getattr(exc, "status_code", None)
    text = message or str(exc) or type(exc).__name__
    return redact(f"HTTP {status}: {text}" if status else text, *secrets)


@dataclass
class Poll:
    """What one poll found: the folded status and everything new since the cursor it was given."""

    status: str
    provider_status: str
    model_id: str | None = None
    error: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)  # {id, time, level, text}
    metrics: list[dict[str, Any]] = field(default_factory=list)  # {step, total_steps, loss, eval_loss, learning_rate}
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # {id, step, path}
    eta: float | None = None
    params: int | None = None
    trained_tokens: int | None = None
    cursor: dict[str, Any] = field(default_factory=dict)


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


class HostedAPI:
    """Base for the provider adapters. `client` is the SDK client, built on first use."""

    provider: Provider

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float = 60.0):
        require_sdk(self.provider)
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._client = None

    @property
    def client(self):
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def _make_client(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def upload(self, path: str) -> str:
        raise NotImplementedError

    def create_job(self, *, model: str, training_file: str, validation_file: str | None,
                   hyperparameters: dict[str, Any]) -> str:
        raise NotImplementedError

    def poll(self, job_id: str, cursor: dict[str, Any]) -> Poll:
        raise NotImplementedError

    def cancel(self, job_id: str) -> str:
        raise NotImplementedError

    def chat(self, model: str, messages: list[dict[str, str]], *, max_tokens: int, temperature: float = 0.0,
             seed: int | None = None) -> Reply:
        """One chat completion from `model` for `messages` (no retries here: wrap in `call_with_backoff`)."""
        raise NotImplementedError


@dataclass
class Reply:
    """One chat completion: the answer text and the tokens the provider billed for it."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


def _reply(completion: Any) -> Reply:
    choice = completion.choices[0] if completion.choices else None
    message = getattr(choice, "message", None)
    text = (getattr(message, "content", None) or getattr(choice, "text", None) or "") if choice else ""
    usage = getattr(completion, "usage", None)
    return Reply(text=text.strip(), prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                 completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                 finish_reason=getattr(choice, "finish_reason", None))


class OpenAIAPI(HostedAPI):
    provider = get_provider("openai")

    def _make_client(self):
        import openai

        return openai.OpenAI(api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def upload(self, path: str) -> str:
        with open(path, "rb") as fh:
            return self.client.files.create(file=fh, purpose="fine-tune").id

    def create_job(self, *, model, training_file, validation_file, hyperparameters):
        hp = dict(hyperparameters)
        extra: dict[str, Any] = {}
        for key in ("suffix", "seed"):
            if hp.get(key) is not None:
                extra[key] = hp.pop(key)
        method_hp = {k: v for k, v in hp.items() if v is not None}
        method = {"type": "supervised", "supervised": {"hyperparameters": method_hp}}
        job = self.client.fine_tuning.jobs.create(
            model=model, training_file=training_file, method=method,
            **({"validation_file": validation_file} if validation_file else {}), **extra,
        )
        return job.id

    def poll(self, job_id, cursor):
        cursor = dict(cursor)
        job = self.client.fine_tuning.jobs.retrieve(job_id)
        result = Poll(status=_STATUS.get(job.status, "running"), provider_status=job.status,
                      model_id=job.fine_tuned_model, trained_tokens=job.trained_tokens)
        if job.error is not None and getattr(job.error, "message", None):
            code = getattr(job.error, "code", None)
            result.error = f"{job.error.message}" + (f" ({code})" if code else "")
        if job.estimated_finish:
            result.eta = max(0.0, job.estimated_finish - time.time())
        # Events come newest first: page back until the last one already seen.
        last_seen = cursor.get("last_event_id")
        fresh: list[Any] = []
        after = None
        for _ in range(50):
            kwargs = {"limit": 100, **({"after": after} if after else {})}
            page = self.client.fine_tuning.jobs.list_events(job_id, **kwargs)
            found = False
            for event in page.data:
                if event.id == last_seen:
                    found = True
                    break
                fresh.append(event)
            if found or not page.has_more or not page.data:
                break
            after = page.data[-1].id
        fresh.reverse()
        for event in fresh:
            data = event.data if isinstance(event.data, dict) else {}
            if event.type == "metrics" and data:
                step = data.get("step")
                if step is not None:
                    result.metrics.append({
                        "step": int(step),
                        "total_steps": data.get("total_steps"),
                        "loss": _num(data.get("train_loss")),
                        "eval_loss": _num(_first(data, "full_valid_loss", "valid_loss")),
                        "learning_rate": _num(data.get("learning_rate")),
                        "accuracy": _num(data.get("train_mean_token_accuracy")),
                    })
            else:
                result.messages.append({"id": event.id, "time": event.created_at, "level": event.level,
                                        "text": event.message})
        if fresh:
            cursor["last_event_id"] = fresh[-1].id
        seen = set(cursor.get("checkpoints", []))
        if result.status in ("running", "succeeded") or seen:
            try:
                page = self.client.fine_tuning.jobs.checkpoints.list(job_id, limit=100)
                for ckpt in sorted(page.data, key=lambda c: c.step_number):
                    if ckpt.id not in seen:
                        seen.add(ckpt.id)
                        result.checkpoints.append({"id": ckpt.id, "step": ckpt.step_number,
                                                   "path": ckpt.fine_tuned_model_checkpoint})
            except Exception as exc:  # checkpoints are a nicety; transient failures are retried next poll
                if classify(exc) is None and getattr(exc, "status_code", None) != 404:
                    raise
        cursor["checkpoints"] = sorted(seen)
        result.cursor = cursor
        return result

    def cancel(self, job_id):
        return self.client.fine_tuning.jobs.cancel(job_id).status

    def chat(self, model, messages, *, max_tokens, temperature=0.0, seed=None):
        # max_completion_tokens: max_tokens is deprecated in the chat API and refused by reasoning models
        return _reply(self.client.chat.completions.create(
            model=model, messages=messages, max_completion_tokens=max_tokens, temperature=temperature,
            **({"seed": seed} if seed is not None else {})))


class TogetherAPI(HostedAPI):
    provider = get_provider("together")

    def _make_client(self):
        import together

        return together.Together(api_key=self.api_key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def upload(self, path: str) -> str:
        return self.client.files.upload(file=path, purpose="fine-tune", check=False).id

    def create_job(self, *, model, training_file, validation_file, hyperparameters):
        hp = {k: v for k, v in hyperparameters.items() if v is not None}
        if "seed" in hp:
            hp["random_seed"] = hp.pop("seed")
        hp.setdefault("train_on_inputs", "auto")
        if validation_file:
            hp["validation_file"] = validation_file
        try:
            job = self.client.fine_tuning.create(training_file=training_file, model=model, **hp)
        except ValueError as exc:  # the SDK checks hyperparameters against the model's limits
            raise TunewizError(f"Together refused the settings: {exc}") from None
        return job.id

    def poll(self, job_id, cursor):
        cursor = dict(cursor)
        job = self.client.fine_tuning.retrieve(job_id)
        status = str(job.status.value if hasattr(job.status, "value") else job.status)
        result = Poll(status=_STATUS.get(status, "running"), provider_status=status,
                      model_id=getattr(job, "x_model_output_name", None), params=getattr(job, "param_count", None),
                      trained_tokens=getattr(job, "token_count", None))
        progress = getattr(job, "progress", None)
        if progress is not None and getattr(progress, "estimate_available", False):
            result.eta = float(progress.seconds_remaining)
        events = self.client.fine_tuning.list_events(job_id).data or []
        seen = int(cursor.get("events_seen", 0))
        total_steps = cursor.get("total_steps")
        for i, event in enumerate(events[seen:], start=seen):
            if event.total_steps:
                total_steps = event.total_steps
            level = event.level or "info"
            result.messages.append({"id": str(i), "time": event.created_at, "level": level, "text": event.message})
            if event.type == "job_error" or (level.endswith("error") and result.status == "failed"):
                result.error = event.message
        if result.status == "failed" and result.error is None:
            for event in reversed(events):
                if event.type == "job_error" or (event.level or "").endswith("error"):
                    result.error = event.message
                    break
        cursor["events_seen"] = len(events)
        if total_steps:
            cursor["total_steps"] = total_steps
        last_step = int(cursor.get("metrics_step", 0))
        rows = self.client.fine_tuning.list_metrics(job_id, global_step_from=last_step + 1).metrics or []
        by_step: dict[int, dict[str, Any]] = {}
        for row in rows:
            step = _first(row, "global_step", "train/global_step", "eval/global_step", "step")
            if step is None or int(step) <= last_step:
                continue
            entry = by_step.setdefault(int(step), {"step": int(step), "total_steps": total_steps})
            loss = _num(_first(row, "train/loss", "train_loss", "loss"))
            if loss is not None:
                entry["loss"] = loss
            eval_loss = _num(_first(row, "eval/loss", "eval_loss", "valid_loss"))
            if eval_loss is not None:
                entry["eval_loss"] = eval_loss
            lr = _num(_first(row, "train/learning_rate", "learning_rate", "lr"))
            if lr is not None:
                entry["learning_rate"] = lr
        result.metrics = [by_step[s] for s in sorted(by_step)]
        if result.metrics:
            cursor["metrics_step"] = result.metrics[-1]["step"]
        seen_ckpts = set(cursor.get("checkpoints", []))
        if result.status in ("running", "succeeded"):
            for ckpt in sorted(self.client.fine_tuning.list_checkpoints(job_id).data or [], key=lambda c: c.step):
                key = f"{ckpt.step}:{ckpt.path}"
                if key not in seen_ckpts:
                    seen_ckpts.add(key)
                    result.checkpoints.append({"id": key, "step": ckpt.step,
                                               "path": getattr(ckpt, "object_name", None) or ckpt.path})
        cursor["checkpoints"] = sorted(seen_ckpts)
        result.cursor = cursor
        return result

    def cancel(self, job_id):
        return str(self.client.fine_tuning.cancel(job_id).status)

    def chat(self, model, messages, *, max_tokens, temperature=0.0, seed=None):
        return _reply(self.client.chat.completions.create(
            model=model, messages=messages, max_tokens=max_tokens, temperature=temperature,
            **({"seed": seed} if seed is not None else {})))


def make_api(provider: str, api_key: str, base_url: str | None = None) -> HostedAPI:
    return {"openai": OpenAIAPI, "together": TogetherAPI}[get_provider(provider).name](api_key, base_url)
