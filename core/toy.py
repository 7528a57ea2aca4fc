"""Tiny offline models and data: a Llama-architecture model small enough to train on a CPU in
seconds, with a tokenizer trained by the `tokenizers` library and a chat template that marks
assistant turns with `{% generation %}` (so assistant-only loss works). Used by tests,
`tunewiz doctor --smoke` and benchmarks; nothing here touches the network."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

# ChatML, with assistant content inside generation markers for assistant-only loss masks.
CHATML_GENERATION_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

_COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white"]
_THINGS = ["apple", "sky", "grass", "sun", "plum", "carrot", "coal", "snow", "cherry", "ocean", "leaf", "lemon"]
_ANSWERS = dict(zip(_THINGS, ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "red", "blue", "green", "yellow"]))


def make_chat_examples(n: int = 64, seed: int = 0, system: bool = True) -> list[dict[str, Any]]:
    """`n` small conversations in the OpenAI `messages` format, with a learnable, consistent answer."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        thing = rng.choice(_THINGS)
        phrasing = rng.choice(["What color is the {t}?", "Tell me the color of the {t}.", "Which color is a {t}?"])
        messages = []
        if system:
            messages.append({"role": "system", "content": "You answer with one JSON object."})
        messages.append({"role": "user", "content": phrasing.format(t=thing) + f" (#{i})"})
        messages.append({"role": "assistant", "content": json.dumps({"thing": thing, "color": _ANSWERS[thing]})})
        examples.append({"messages": messages})
    return examples


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _training_corpus() -> list[str]:
    words = _COLORS + _THINGS + ["What", "color", "is", "the", "Tell", "me", "of", "Which", "a", "You", "answer",
                                 "with", "one", "JSON", "object", "system", "user", "assistant", "thing"]
    rng = random.Random(1)
    lines = [json.dumps({"thing": t, "color": c}) for t, c in _ANSWERS.items()]
    lines += [" ".join(rng.choice(words) for _ in range(12)) + f" ({i}) #{i}?." for i in range(400)]
    lines += ["abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 {}[]\":,.?!#()-_'/\\"]
    return lines


def build_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer trained on a small corpus, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
    )
    fast.chat_template = CHATML_GENERATION_TEMPLATE
    return fast


def build_tiny_model(
    path: str | Path,
    *,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 4,
    kv_heads: int = 2,
    intermediate_size: int = 128,
    vocab_size: int = 512,
    seed: int = 0,
) -> Path:
    """Write a randomly initialized LlamaForCausalLM and its tokenizer to `path` as a normal Hugging
    Face folder (config.json, model.safetensors, tokenizer files with the chat template)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    tokenizer = build_tokenizer(vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
