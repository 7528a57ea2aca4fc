"""Token counts for conversations: with a real tokenizer when one is given, else a documented estimate.

Estimate (before a model is chosen): tokens = ceil(characters / 4) per turn + 4 tokens per turn for the chat
template's role markers. For English prose this is usually within about ±25% of Llama/Qwen/Mistral BPE
tokenizers; code, numbers and non-Latin scripts can need 2-3x more tokens, so pass `--tokenizer` once the
model is known. With a tokenizer (any Hugging Face tokenizer folder or id) the conversation is rendered with
its chat template when it has one (else `role: content` lines) and counted exactly."""

from __future__ import annotations

from typing import Any

APPROX_CHARS_PER_TOKEN = 4
APPROX_TOKENS_PER_TURN = 4
APPROX_DESCRIPTION = (
    "estimate: characters/4 + 4 per turn (typically within ±25% for English prose; code and non-Latin text "
    "can need 2-3x more); pass --tokenizer for exact counts"
)


class TokenCounter:
    """Counts tokens per conversation and per assistant reply. `exact` says whether a tokenizer is used."""

    def __init__(self, tokenizer: str | None = None):
        self.tokenizer_name = tokenizer
        self._tok: Any = None
        self.has_chat_template = False
        if tokenizer:
            self._tok = _load_tokenizer(tokenizer)
            self.has_chat_template = bool(getattr(self._tok, "chat_template", None))

    @property
    def exact(self) -> bool:
        return self._tok is not None

    @property
    def method(self) -> str:
        if not self._tok:
            return APPROX_DESCRIPTION
        how = "its chat template" if self.has_chat_template else "role: content lines (no chat template)"
        return f"tokenizer {self.tokenizer_name} rendered with {how}"

    def count(self, conversations: list[list[dict]]) -> list[tuple[int, list[int]]]:
        """For each conversation: (total tokens, [tokens of each assistant reply])."""
        if not self._tok:
            out = []
            for turns in conversations:
                total = 0
                replies = []
                for t in turns:
                    n = -(-len(t["content"]) // APPROX_CHARS_PER_TOKEN)
                    total += n + APPROX_TOKENS_PER_TURN
                    if t["role"] == "assistant":
                        replies.append(n)
                out.append((total, replies))
            return out
        tok = self._tok
        texts = [self._render(turns) for turns in conversations]
        totals = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
        replies_flat = [t["content"] for turns in conversations for t in turns if t["role"] == "assistant"]
        reply_lens = [len(ids) for ids in tok(replies_flat, add_special_tokens=False)["input_ids"]] if replies_flat else []
        out, k = [], 0
        for turns, total in zip(conversations, totals):
            n = sum(1 for t in turns if t["role"] == "assistant")
            out.append((total, reply_lens[k:k + n]))
            k += n
        return out

    def _render(self, turns: list[dict]) -> str:
        msgs = [{"role": t["role"], "content": t["content"]} for t in turns]
        if self.has_chat_template:
            try:
                return self._tok.apply_chat_template(msgs, tokenize=False)
            except Exception:  # some templates reject shapes (e.g. no system support); count plainly then
                pass
        return "\n".join(f"{m['role']}: {m['content']}" for m in msgs)


def _load_tokenizer(name: str):
    from core.errors import TunewizError

    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(name)
    except Exception as exc:
        raise TunewizError(f"--tokenizer {name}: could not load a tokenizer ({type(exc).__name__}: {exc})",
                           exit_code=2, hint="pass a folder holding tokenizer.json/tokenizer_config.json, or a hub id "
                           "you have downloaded") from None


def recommend_max_seq_len(p99: int, longest: int) -> int:
    """The smallest common length that fits 99% of examples (never below 256)."""
    steps = [256, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 65536, 131072]
    for s in steps:
        if s >= p99:
            return s
    return steps[-1]
