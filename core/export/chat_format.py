"""What a tokenizer's chat template looks like turn by turn, derived by rendering it with marker
messages: the text before and after a system, user and assistant message, the generation prompt,
and the special tokens that end a turn. The Ollama Modelfile's TEMPLATE and stop list, and the
evaluator's stop tokens, all come from this one analysis, so they agree with training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_S, _U1, _U2, _A1 = "\x00SYSMARK\x00", "\x00USERMARK1\x00", "\x00USERMARK2\x00", "\x00ASSTMARK1\x00"


class TemplateNotDerivable(ValueError):
    """The chat template does not decompose into fixed per-role prefixes and suffixes."""


@dataclass
class TurnFormat:
    """Fixed text around each role's content. `start` opens a conversation without a system message;
    `system_start` replaces it when there is one (None: the template has no system role)."""

    start: str
    system_start: str | None  # contains {system} where the system content goes
    user_prefix: str
    user_suffix: str
    assistant_prefix: str
    assistant_suffix: str
    generation_prompt: str
    stop_tokens: list[str] = field(default_factory=list)

    def render(self, messages: list[dict[str, str]], add_generation_prompt: bool = False) -> str:
        """Render like the tokenizer would (used to check the derivation and by tests)."""
        system = [m["content"] for m in messages if m["role"] == "system"]
        if system and self.system_start is not None:
            out = self.system_start.replace("{system}", "\n".join(system))
        else:
            out = self.start
        for m in messages:
            if m["role"] == "user":
                out += self.user_prefix + m["content"] + self.user_suffix
            elif m["role"] == "assistant":
                out += self.assistant_prefix + m["content"] + self.assistant_suffix
        if add_generation_prompt and messages and messages[-1]["role"] != "assistant":
            out += self.generation_prompt
        return out

    def ollama_template(self) -> str:
        """The same format as an Ollama Go template over `.System` and `.Messages`."""
        esc = _go_literal
        if self.system_start is not None:
            before, _, after = self.system_start.partition("{system}")
            head = f"{{{{ if .System }}}}{esc(before)}{{{{ .System }}}}{esc(after)}{{{{ else }}}}{esc(self.start)}{{{{ end }}}}"
        else:
            head = esc(self.start)
        return (
            head
            + "{{ range $i, $_ := .Messages }}"
            + "{{ $last := eq (len (slice $.Messages $i)) 1 }}"
            + f'{{{{ if eq .Role "user" }}}}{esc(self.user_prefix)}{{{{ .Content }}}}{esc(self.user_suffix)}'
            + f'{{{{ else if eq .Role "assistant" }}}}{esc(self.assistant_prefix)}{{{{ .Content }}}}'
            + f"{{{{ if not $last }}}}{esc(self.assistant_suffix)}{{{{ end }}}}"
            + "{{ end }}"
            + f'{{{{ if and $last (ne .Role "assistant") }}}}{esc(self.generation_prompt)}{{{{ end }}}}'
            + "{{ end }}"
        )


def _go_literal(text: str) -> str:
    """Text placed verbatim in a Go template (`{{` would open an action)."""
    return text.replace("{{", '{{ "{{" }}')


def _render(tokenizer: Any, messages: list[dict[str, str]], gen: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def _strip_bos(text: str, tokenizer: Any) -> str:
    bos = getattr(tokenizer, "bos_token", None)
    template = getattr(tokenizer, "chat_template", None) or ""
    return text[len(bos):] if bos and "bos_token" in template and text.startswith(bos) else text


def derive_turn_format(tokenizer: Any, extra_eos: list[str] | None = None) -> TurnFormat:
    """Decompose `tokenizer.chat_template` by rendering marker conversations; raise TemplateNotDerivable
    when a part of the output depends on more than the role (then the template must be written by hand).
    A leading BOS token is left out: llama.cpp and Ollama add it themselves."""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateNotDerivable("the tokenizer has no chat template")
    user1 = {"role": "user", "content": _U1}
    asst1 = {"role": "assistant", "content": _A1}
    user2 = {"role": "user", "content": _U2}
    try:
        r1 = _strip_bos(_render(tokenizer, [user1]), tokenizer)
        r2 = _strip_bos(_render(tokenizer, [user1, asst1]), tokenizer)
        r3 = _strip_bos(_render(tokenizer, [user1, asst1, user2]), tokenizer)
        rg = _strip_bos(_render(tokenizer, [user1], gen=True), tokenizer)
    except Exception as exc:  # jinja errors: templates that insist on a shape we did not give
        raise TemplateNotDerivable(f"the chat template failed on a plain conversation: {exc}") from None
    if not (r2.startswith(r1) and r3.startswith(r2) and rg.startswith(r1)):
        raise TemplateNotDerivable("earlier turns change when later turns are added")
    asst_block, user_block2 = r2[len(r1):], r3[len(r2):]
    if _A1 not in asst_block or _U2 not in user_block2:
        raise TemplateNotDerivable("message content is not rendered verbatim")
    a_pre, _, a_suf = asst_block.partition(_A1)
    u_pre, _, u_suf = user_block2.partition(_U2)
    user_block1 = u_pre + _U1 + u_suf
    if not r1.endswith(user_block1):
        raise TemplateNotDerivable("the first user turn is rendered differently from later ones")
    start = r1[: len(r1) - len(user_block1)]
    system_start: str | None = None
    try:
        rs = _strip_bos(_render(tokenizer, [{"role": "system", "content": _S}, user1]), tokenizer)
        if rs.endswith(user_block1) and _S in rs:
            system_start = rs[: len(rs) - len(user_block1)].replace(_S, "{system}")
    except Exception:
        system_start = None
    fmt = TurnFormat(start, system_start, u_pre, u_suf, a_pre, a_suf, rg[len(r1):])
    fmt.stop_tokens = stop_tokens(tokenizer, fmt, extra_eos)
    return fmt


def stop_tokens(tokenizer: Any, fmt: TurnFormat | None, extra_eos: list[str] | None = None) -> list[str]:
    """Every token that ends the assistant's turn: the EOS token, the generation config's EOS tokens
    (`extra_eos`), the special tokens in the assistant suffix (`<|im_end|>`, `<|eot_id|>`,
    `<end_of_turn>`) and the one that opens the next user turn (`<|im_start|>`)."""
    specials = [t for t in getattr(tokenizer, "all_special_tokens", []) if t]
    specials += [t.content for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if getattr(t, "special", False)]
    out: list[str] = []

    def add(token: str | None) -> None:
        if token and token not in out:
            out.append(token)

    pad = getattr(tokenizer, "pad_token", None)
    if fmt is not None:
        for t in sorted({t for t in specials if t in fmt.assistant_suffix}, key=fmt.assistant_suffix.index):
            if t != pad:
                add(t)
        opener = [t for t in specials if fmt.user_prefix.startswith(t) and t != pad]
        if opener:
            add(max(opener, key=len))
    add(getattr(tokenizer, "eos_token", None))
    for token in extra_eos or []:
        add(token)
    return out


CHATML = TurnFormat(
    start="",
    system_start="<|im_start|>system\n{system}<|im_end|>\n",
    user_prefix="<|im_start|>user\n",
    user_suffix="<|im_end|>\n",
    assistant_prefix="<|im_start|>assistant\n",
    assistant_suffix="<|im_end|>\n",
    generation_prompt="<|im_start|>assistant\n",
    stop_tokens=["<|im_end|>", "<|im_start|>"],
)


def generation_eos_tokens(model_dir: str | None, tokenizer: Any) -> list[str]:
    """EOS tokens named by `generation_config.json` in `model_dir` (Llama 3 lists several)."""
    import json
    from pathlib import Path

    if not model_dir:
        return []
    path = Path(model_dir) / "generation_config.json"
    try:
        ids = json.loads(path.read_text(encoding="utf-8")).get("eos_token_id")
    except (OSError, ValueError):
        return []
    ids = ids if isinstance(ids, list) else [ids] if ids is not None else []
    return [tokenizer.convert_ids_to_tokens(int(i)) for i in ids]


def turn_format_for(tokenizer: Any, model_dir: str | None = None) -> TurnFormat:
    """`derive_turn_format`, falling back to ChatML when the template is a ChatML variant that does not
    decompose cleanly (tool-calling branches, default system prompts). Raises TemplateNotDerivable otherwise."""
    extra = generation_eos_tokens(model_dir, tokenizer)
    try:
        return derive_turn_format(tokenizer, extra)
    except TemplateNotDerivable:
        if "<|im_start|>" in (getattr(tokenizer, "chat_template", None) or ""):
            fmt = TurnFormat(**{k: getattr(CHATML, k) for k in CHATML.__dataclass_fields__})
            fmt.stop_tokens = stop_tokens(tokenizer, fmt, extra)
            return fmt
        raise
