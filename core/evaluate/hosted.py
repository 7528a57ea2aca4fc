"""Evaluate a hosted run (OpenAI, Together) through the provider's chat API: the base model and the
fine-tuned model answer the same seeded held-out prompts a local evaluation would pick, scored with the
same task metrics and written to the same eval.json (see core.evaluate.runner). Loss and perplexity are
recorded as null with the reason: a chat API returns text, not token probabilities.

The key comes from the environment (or a masked prompt on a terminal) like the rest of core.hosted and
is never written: not to eval.json, not to logs, not into error text (it is redacted there). Calls use
the run's client settings (base URL, backoff from hosted.yaml) and retry 429, 5xx and dropped
connections with `core.hosted.api.call_with_backoff`."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable

from core.errors import TunewizError
from core.evaluate.metrics import compile_regex
from core.evaluate.runner import (
    EVAL_VERSION, LOSS_UNAVAILABLE, Progress, answer_budget, choose_prompts, finish_result,
)
from core.runs import RunDir

DEFAULT_CONCURRENCY = 4


def tuned_model_id(run: RunDir) -> str | None:
    """The fine-tuned model id a finished hosted run recorded (state.json, else the `finished` event)."""
    model = run.read_state().get("fine_tuned_model")
    if model:
        return str(model)
    view = run.view()
    return str(view.output) if view.status == "finished" and view.output else None


def evaluate_hosted_run(run: RunDir, *, n: int = 50, regex: str | None = None, seed: int | None = None,
                        max_new_tokens: int | None = None, temperature: float = 0.0,
                        progress: Progress | None = None, save: bool = True, api_key: str | None = None,
                        interactive: bool | None = None, base_chat_model: str | None = None, backoff=None,
                        concurrency: int = DEFAULT_CONCURRENCY,
                        on_retry: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Side-by-side evaluation of a hosted run's base and fine-tuned models; returns (and unless `save`
    is false writes) the eval.json result. `base_chat_model` replaces the model the job trained from
    when the provider does not serve that one for chat. `interactive=False` never prompts for a key."""
    from core.evaluate.loading import run_config, validation_examples
    from core.hosted.api import Backoff, make_api, require_sdk
    from core.hosted.follower import read_hosted
    from core.hosted.providers import get_provider
    from core.hosted.run import resolve_api_key
    from core.hosted.tokens import text_counter

    if n < 1:
        raise TunewizError("--n must be at least 1")
    pattern = compile_regex(regex)
    settings = read_hosted(run)
    try:
        prov = get_provider(str(settings.get("provider")))
    except (KeyError, ValueError, TunewizError):
        raise TunewizError(f"{run.path / 'hosted.yaml'}: provider: unknown {settings.get('provider')!r}") from None
    tuned_model = tuned_model_id(run)
    if not tuned_model:
        status = run.view().status
        raise TunewizError(f"{run.run_id}: the {prov.title} job has no fine-tuned model yet (status: {status})",
                           hint="evaluate once it has finished; `tunewiz watch` follows it", exit_code=2)
    trained_from = str(settings.get("model") or "")
    base_model = base_chat_model or trained_from
    config = run_config(run)
    examples = validation_examples(run, config)
    seed = config.seed if seed is None else seed
    report = progress or (lambda stage, done, total: None)

    report("load", 0, 1)
    require_sdk(prov)
    key = api_key or resolve_api_key(prov, interactive=interactive)
    api = make_api(prov.name, key, settings.get("base_url"))
    if backoff is None:
        b = settings.get("backoff") or {}
        backoff = Backoff(base=float(b.get("base", 2.0)), maximum=min(float(b.get("max", 60.0)), 60.0), attempts=8)
    chosen = choose_prompts(examples, n, seed)
    prompts = [prompt for _, prompt, _ in chosen]
    if max_new_tokens is None:
        count, _ = text_counter(prov.name, base_model)
        max_new_tokens = answer_budget(max((count(ref) for _, _, ref in chosen), default=32))
    report("load", 1, 1)

    retries = {"count": 0}

    def retried(why: str, wait: float) -> None:
        retries["count"] += 1
        if on_retry:
            on_retry(f"{why}; retrying in {wait:.1f}s")

    usage: dict[str, dict[str, int]] = {}
    answers: dict[str, list[str]] = {}
    for role, model in (("base", base_model), ("tuned", tuned_model)):
        replies = _ask_all(api, key, prov, role, model, prompts, max_tokens=max_new_tokens, temperature=temperature,
                           seed=seed, backoff=backoff, concurrency=concurrency, on_retry=retried,
                           progress=lambda d, t, stage=f"generate:{role}": report(stage, d, t))
        answers[role] = [r.text for r in replies]
        usage[role] = {"prompt_tokens": sum(r.prompt_tokens for r in replies),
                       "completion_tokens": sum(r.completion_tokens for r in replies),
                       "cut_at_limit": sum(1 for r in replies if r.finish_reason == "length")}

    result = {
        "version": EVAL_VERSION,
        "run_id": run.run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backend": prov.name,
        "base_model": base_model,
        "adapter": None,
        "device": f"{prov.title} chat API",
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "regex": regex,
        "loss": {"base": None, "tuned": None, "reason": LOSS_UNAVAILABLE},
        "hosted": {"provider": prov.name, "trained_from": trained_from, "base_model": base_model,
                   "tuned_model": tuned_model, "usage": usage, "retries": retries["count"]},
    }
    return finish_result(run, result, chosen, answers["base"], answers["tuned"], pattern, save=save)


def _ask_all(api, key: str, prov, role: str, model: str, prompts: list[list[dict[str, str]]], *, max_tokens: int,
             temperature: float, seed: int, backoff, concurrency: int, on_retry, progress) -> list:
    """Replies of `model` to every prompt, in order; a few requests in flight at once, each with backoff.
    A failure that retrying does not cure becomes one TunewizError naming the model, key redacted."""
    from core.hosted.api import call_with_backoff

    def ask(messages):
        return call_with_backoff(
            lambda: api.chat(model, messages, max_tokens=max_tokens, temperature=temperature, seed=seed),
            backoff, on_retry=on_retry)

    replies: list[Any] = [None] * len(prompts)
    progress(0, len(prompts))
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(prompts) or 1))) as pool:
        futures = {pool.submit(ask, messages): i for i, messages in enumerate(prompts)}
        try:
            for done, future in enumerate(as_completed(futures), 1):
                replies[futures[future]] = future.result()
                progress(done, len(prompts))
        except Exception as exc:  # noqa: BLE001 - the provider's error, reported once and without the key
            for pending in futures:
                pending.cancel()
            raise _chat_error(exc, key, prov, role, model) from None
    return replies


def _chat_error(exc: BaseException, key: str, prov, role: str, model: str) -> TunewizError:
    from core.hosted.api import error_message

    if isinstance(exc, TunewizError):
        return exc
    status = getattr(exc, "status_code", None)
    hint = None
    if status in (401, 403):
        hint = f"check the key in {prov.key_env}"
    elif status == 429:
        hint = "the provider is rate limiting; wait a minute or evaluate fewer prompts (--n)"
    elif status in (400, 404) and role == "base":
        hint = (f"pass --base-model ID with a model {prov.title} serves for chat "
                "(the name a job trains from is not always served for inference)")
    elif status in (400, 404):
        hint = (f"the fine-tuned model has to be served for inference at {prov.title}"
                + (" (start a dedicated endpoint for it, or use a model with serverless LoRA inference)"
                   if prov.name == "together" else ""))
    return TunewizError(f"{prov.title}: the {role} model {model!r} could not answer: {error_message(exc, key)}",
                        hint=hint)
