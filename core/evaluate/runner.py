"""Evaluate a finished run on its held-out split (the guide's Evaluation section): loss and perplexity
of the base and the tuned model, then seeded generation on N held-out prompts scored against the
reference answers. The result is written to `eval.json` in the run folder. Hosted runs (OpenAI,
Together) are evaluated through the provider's chat API instead (core.evaluate.hosted): same prompts,
same metrics, same file, but no loss.

eval.json (version 1):
  {"version", "run_id", "created", "backend" ("local", "openai", "together"), "base_model", "adapter",
   "device", "seed", "n", "max_new_tokens", "temperature", "regex",
   "loss": {"base": {"loss", "perplexity", "tokens", "examples"}, "tuned": {...}}
           (hosted: {"base": null, "tuned": null, "reason": "not available for hosted models: ..."}),
   "metrics": {"base": {"n", "n_json", "exact_match", "contains", "json_valid"?, "field_match"?, "regex"?},
               "tuned": {...}},
   "samples": [{"index", "messages" (the prompt turns), "prompt" (last user text), "reference",
                "base", "tuned", "scores": {"base": {...}, "tuned": {...}}}],
   "ab": {see core.evaluate.ab},
   "hosted" (hosted runs only): {"provider", "trained_from", "base_model", "tuned_model",
                                 "usage": {"base": {"prompt_tokens", "completion_tokens"}, "tuned": {...}}}}"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Any, Callable

from core.errors import TunewizError
from core.evaluate.metrics import aggregate, compile_regex, score_answer
from core.runs import RunDir, write_json_atomic

EVAL_FILE = "eval.json"
EVAL_VERSION = 1
LOSS_UNAVAILABLE_SHORT = "not available for hosted models"
LOSS_UNAVAILABLE = (LOSS_UNAVAILABLE_SHORT + ": a chat API returns text, not the token probabilities "
                    "that loss and perplexity need")

# progress(stage, done, total): stage is "load", "loss:base", "loss:tuned", "generate:base", "generate:tuned"
Progress = Callable[[str, int, int], None]


def eval_path(run: RunDir) -> Path:
    return run.path / EVAL_FILE


def read_eval(run: RunDir) -> dict[str, Any] | None:
    """The run's eval.json, or None when it has not been evaluated (or the file is unreadable)."""
    import json

    try:
        data = json.loads(eval_path(run).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_eval(run: RunDir, result: dict[str, Any]) -> Path:
    write_json_atomic(eval_path(run), result)
    return eval_path(run)


def split_prompt(example: dict[str, Any]) -> tuple[list[dict[str, str]], str] | None:
    """(messages before the last assistant turn, that turn's content), or None without an answer."""
    messages = example["messages"]
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant":
            prompt = [{"role": m["role"], "content": m.get("content") or ""} for m in messages[:i]]
            return (prompt, messages[i].get("content") or "") if prompt else None
    return None


def _encode_for_loss(tokenizer, messages, max_len: int, assistant_only: bool) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 where not scored): assistant tokens only when the template marks them."""
    enc = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=assistant_only
    )
    ids = list(enc["input_ids"])[:max_len]
    mask = list(enc.get("assistant_masks") or [])[:max_len] if assistant_only else []
    if assistant_only and any(mask):
        labels = [t if m else -100 for t, m in zip(ids, mask)]
    else:
        labels = list(ids)
    return ids, labels


def validation_loss(model, tokenizer, examples, *, device: str, max_len: int, assistant_only: bool = True,
                    batch_size: int = 8, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Token-weighted mean cross-entropy over `examples` and its perplexity (exp of the loss). Scores the
    same tokens training did: assistant tokens when the template marks them, else every token."""
    import torch

    encoded = [_encode_for_loss(tokenizer, ex["messages"], max_len, assistant_only) for ex in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total_nll, total_tokens = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            chunk = encoded[start:start + batch_size]
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            attn = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, (tok, lab) in enumerate(chunk):
                ids[row, : len(tok)] = torch.tensor(tok)
                labels[row, : len(lab)] = torch.tensor(lab)
                attn[row, : len(tok)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=attn.to(device)).logits.float()
            shift_logits = logits[:, :-1].reshape(-1, logits.shape[-1])
            shift_labels = labels[:, 1:].reshape(-1).to(device)
            nll = torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100, reduction="sum")
            total_nll += float(nll)
            total_tokens += int((shift_labels != -100).sum())
            if progress:
                progress(min(start + batch_size, len(encoded)), len(encoded))
    loss = total_nll / max(total_tokens, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": total_tokens, "examples": len(encoded)}


def generate(model, tokenizer, prompts: list[list[dict[str, str]]], *, device: str, max_new_tokens: int,
             stop_ids: list[int], seed: int, temperature: float = 0.0, batch_size: int = 8,
             progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Answers to each prompt (chat messages), batched with left padding; greedy unless temperature > 0,
    seeded either way so a rerun gives the same text."""
    import torch

    old_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    answers: list[str] = []
    try:
        torch.manual_seed(seed)
        for start in range(0, len(prompts), batch_size):
            texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
                     for p in prompts[start:start + batch_size]]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
            with torch.no_grad():
                out = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=stop_ids,
                                     pad_token_id=tokenizer.pad_token_id, **sampling)
            for row in out[:, batch["input_ids"].shape[1]:]:
                answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
            if progress:
                progress(len(answers), len(prompts))
    finally:
        tokenizer.padding_side = old_side
    return answers


def _stop_ids(tokenizer, base_model: str) -> list[int]:
    from core.export.chat_format import TemplateNotDerivable, stop_tokens, turn_format_for

    try:
        tokens = turn_format_for(tokenizer, base_model).stop_tokens
    except TemplateNotDerivable:
        tokens = stop_tokens(tokenizer, None)
    ids = [tokenizer.convert_tokens_to_ids(t) for t in tokens]
    return [i for i in ids if isinstance(i, int) and i >= 0] or [tokenizer.eos_token_id]


def evaluate_run(run: RunDir, *, n: int = 50, regex: str | None = None, seed: int | None = None,
                 max_new_tokens: int | None = None, temperature: float = 0.0, max_loss_examples: int = 500,
                 device: str | None = None, progress: Progress | None = None, save: bool = True,
                 **hosted: Any) -> dict[str, Any]:
    """Evaluate `run` (see the module docstring for what), write eval.json unless `save` is false, and
    return the result. `n` prompts are drawn from the validation split with `seed` (default: the run's).
    A hosted run goes to `core.evaluate.hosted.evaluate_hosted_run`, which takes the `hosted` keywords
    (api_key, interactive, base_chat_model, backoff, concurrency)."""
    from core.evaluate.loading import load_tuned_model, run_config, validation_examples
    from core.hosted.follower import hosted_file

    if hosted_file(run).exists():
        from core.evaluate.hosted import evaluate_hosted_run

        return evaluate_hosted_run(run, n=n, regex=regex, seed=seed, max_new_tokens=max_new_tokens,
                                   temperature=temperature, progress=progress, save=save, **hosted)
    if hosted.get("base_chat_model"):
        raise TunewizError(f"--base-model is only for hosted runs; {run.run_id} was trained locally", exit_code=2)
    if n < 1:
        raise TunewizError("--n must be at least 1")
    pattern = compile_regex(regex)
    config = run_config(run)
    examples = validation_examples(run, config)
    seed = config.seed if seed is None else seed
    report = progress or (lambda stage, done, total: None)

    report("load", 0, 1)
    model, tokenizer, device = load_tuned_model(run, config, device=device)
    report("load", 1, 1)

    loss_rows = examples[:max_loss_examples]
    loss: dict[str, Any] = {}
    with model.disable_adapter():
        loss["base"] = validation_loss(model, tokenizer, loss_rows, device=device, max_len=config.max_seq_length,
                                       assistant_only=config.assistant_only_loss,
                                       progress=lambda d, t: report("loss:base", d, t))
    loss["tuned"] = validation_loss(model, tokenizer, loss_rows, device=device, max_len=config.max_seq_length,
                                    assistant_only=config.assistant_only_loss,
                                    progress=lambda d, t: report("loss:tuned", d, t))

    chosen = choose_prompts(examples, n, seed)
    prompts = [prompt for _, prompt, _ in chosen]
    references = [ref for _, _, ref in chosen]
    if max_new_tokens is None:
        longest = max((len(tokenizer(r, add_special_tokens=False)["input_ids"]) for r in references), default=32)
        max_new_tokens = answer_budget(longest)
    stop_ids = _stop_ids(tokenizer, config.base_model)
    gen = dict(device=device, max_new_tokens=max_new_tokens, stop_ids=stop_ids, seed=seed, temperature=temperature)
    with model.disable_adapter():
        base_answers = generate(model, tokenizer, prompts, progress=lambda d, t: report("generate:base", d, t), **gen)
    tuned_answers = generate(model, tokenizer, prompts, progress=lambda d, t: report("generate:tuned", d, t), **gen)

    result = {
        "version": EVAL_VERSION,
        "run_id": run.run_id,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backend": "local",
        "base_model": config.base_model,
        "adapter": str(run.adapter),
        "device": device,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "regex": regex,
        "loss": loss,
    }
    return finish_result(run, result, chosen, base_answers, tuned_answers, pattern, save=save)


def answer_budget(longest_reference_tokens: int) -> int:
    """Answer length cap from the longest reference: half as long again plus a margin, at most 512."""
    return min(512, int(longest_reference_tokens * 1.5) + 16)


def choose_prompts(examples: list[dict[str, Any]], n: int, seed: int) -> list[tuple[int, list[dict[str, str]], str]]:
    """(index in the split, prompt messages, reference answer) for `n` examples drawn with `seed`, in split
    order. The same split, n and seed give the same prompts for a local and a hosted evaluation."""
    usable = [(i, split) for i, ex in enumerate(examples) if (split := split_prompt(ex)) is not None]
    if not usable:
        raise TunewizError("the validation split has no conversation ending in an assistant answer to compare with")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(usable, min(n, len(usable))), key=lambda pair: pair[0])
    return [(index, split[0], split[1]) for index, split in chosen]


def finish_result(run: RunDir, result: dict[str, Any], chosen, base_answers: list[str], tuned_answers: list[str],
                  pattern, *, save: bool = True) -> dict[str, Any]:
    """Score both models' answers, add samples and metrics to `result`, keep the A/B ratings of an earlier
    evaluation on the same prompts, and write eval.json unless `save` is false."""
    samples = []
    for (index, prompt, ref), base_out, tuned_out in zip(chosen, base_answers, tuned_answers):
        last_user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        samples.append({
            "index": index, "messages": prompt, "prompt": last_user, "reference": ref,
            "base": base_out, "tuned": tuned_out,
            "scores": {"base": score_answer(base_out, ref, pattern), "tuned": score_answer(tuned_out, ref, pattern)},
        })
    result["n"] = len(samples)
    result["metrics"] = {
        "base": aggregate([s["scores"]["base"] for s in samples]),
        "tuned": aggregate([s["scores"]["tuned"] for s in samples]),
    }
    result["samples"] = samples
    previous = read_eval(run)
    if (previous and isinstance(previous.get("ab"), dict) and previous.get("seed") == result.get("seed")
            and previous.get("n") == len(samples)
            and [s.get("index") for s in previous.get("samples", [])] == [s["index"] for s in samples]):
        result["ab"] = previous["ab"]  # same prompts: keep the person's ratings
    if save:
        write_eval(run, result)
    return result


def loss_available(result: dict[str, Any]) -> bool:
    """True when the result has base and tuned validation loss (not for hosted models)."""
    loss = result.get("loss") or {}
    return isinstance(loss.get("base"), dict) and isinstance(loss.get("tuned"), dict)


def summary_lines(result: dict[str, Any]) -> list[str]:
    """A short human summary of an eval result (CLI output and the Evaluate step's header)."""
    lines = []
    loss = result.get("loss") or {}
    if loss_available(result):
        b, t = loss["base"], loss["tuned"]
        lines.append(f"val loss        base {b['loss']:.4f}   tuned {t['loss']:.4f}   ({t['loss'] - b['loss']:+.4f})")
        lines.append(f"perplexity      base {b['perplexity']:.2f}   tuned {t['perplexity']:.2f}")
    elif loss:
        lines.append(f"val loss        {LOSS_UNAVAILABLE_SHORT}")
        lines.append(f"perplexity      {LOSS_UNAVAILABLE_SHORT}")
    mb, mt = result.get("metrics", {}).get("base", {}), result.get("metrics", {}).get("tuned", {})
    labels = {"exact_match": "exact match", "contains": "contains", "json_valid": "JSON valid",
              "field_match": "JSON fields", "regex": "regex match"}
    for key, label in labels.items():
        if key in mt:
            lines.append(f"{label:<15} base {mb.get(key, 0):6.1%}   tuned {mt[key]:6.1%}")
    where = f"seed {result.get('seed')}"
    if loss_available(result):
        where += f"; loss on {loss['tuned'].get('examples', 0)} examples"
    hosted = result.get("hosted") or {}
    if hosted:
        where += f"; {hosted.get('base_model')} vs {hosted.get('tuned_model')} via the {hosted.get('provider')} chat API"
    lines.append(f"({result.get('n', 0)} held-out prompts, {where})")
    return lines
