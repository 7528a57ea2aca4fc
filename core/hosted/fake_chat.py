"""The fake server's `/chat/completions` (both providers), kept apart from the fine-tuning endpoints.

A finished job's fine-tuned model has "learned" its data: for a prompt found in the job's uploaded training
or validation file it replies with that file's assistant answer. Base models, and the tuned model on an
unseen prompt, reply with polite prose that echoes the prompt, so a test can assert the tuned model beats
the base one on the task metrics. Deterministic: the same request always gets the same text."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


class FakeChat:
    """Mixin for FakeProviderServer; expects `lock`, `jobs`, `files`, `chat_models`, `chat_answers`, `chats`."""

    def learned_answers(self, job: Any) -> dict[str, str]:
        """Last user text -> assistant answer for every conversation in the job's uploaded files."""
        answers: dict[str, str] = {}
        for file_id in (job.training_file, job.validation_file):
            raw = (self.files.get(file_id or "") or {}).get("content") or b""
            for line in raw.splitlines():  # an OpenAI upload is multipart: only the JSON lines parse
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                messages = row.get("messages") if isinstance(row, dict) else None
                if not isinstance(messages, list):
                    continue
                user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
                answer = next((m.get("content") for m in reversed(messages) if m.get("role") == "assistant"), None)
                if isinstance(user, str) and isinstance(answer, str):
                    answers[user] = answer
        return answers

    def chat(self, provider: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(HTTP status, response) for one chat completion request."""
        model = str(body.get("model", ""))
        messages = body.get("messages") or []
        with self.lock:
            self.chats.append(body)
            tuned = next((j for j in self.jobs.values() if j.provider == provider and j.fine_tuned_model == model), None)
            bases = self.chat_models | {j.model for j in self.jobs.values() if j.provider == provider}
            answers = (self.learned_answers(tuned) | self.chat_answers) if tuned else {}
        if tuned is None and model not in bases:
            return 404, {"error": {"message": f"The model `{model}` does not exist or you do not have access to it.",
                                   "type": "invalid_request_error", "code": "model_not_found", "param": None}}
        user = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), "") or ""
        text = answers.get(user) or f"Sure! Happy to help with that. You asked: {user.strip()} Let me know if you need more."
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = text.split(" ")
        finish = "stop"
        if isinstance(limit, int) and len(words) > limit:
            text, finish = " ".join(words[:limit]), "length"
        usage = {"prompt_tokens": sum(len(str(m.get("content", "")).split()) + 3 for m in messages) + 3,
                 "completion_tokens": len(text.split()), "total_tokens": 0}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        reply = {"id": "chatcmpl-" + uuid.uuid4().hex[:12], "object": "chat.completion", "created": int(time.time()),
                 "model": model, "usage": usage,
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                              "logprobs": None}]}
        if provider == "together":
            reply["prompt"] = []
        return 200, reply
