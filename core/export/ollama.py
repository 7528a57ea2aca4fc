"""An Ollama Modelfile for an exported model: FROM the GGUF file (or merged folder), a TEMPLATE that
renders conversations exactly like the tokenizer's chat template, and a `PARAMETER stop` for every
token that ends a turn. Without those stops a model exported to Ollama keeps generating past its answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.errors import TunewizError


def modelfile_text(source: str, tokenizer: Any, model_dir: str | None = None, *, comment: str = "") -> str:
    """The Modelfile for `source` (a path relative to the Modelfile, e.g. ./model-q8_0.gguf)."""
    from core.export.chat_format import TemplateNotDerivable, turn_format_for

    try:
        fmt = turn_format_for(tokenizer, model_dir)
    except TemplateNotDerivable as exc:
        raise TunewizError(
            f"cannot write an Ollama TEMPLATE for this chat template ({exc})",
            hint="write the TEMPLATE by hand; the GGUF file carries the original template in tokenizer.chat_template",
        ) from None
    template = fmt.ollama_template()
    if '"""' in template:
        raise TunewizError("the chat template contains triple quotes, which a Modelfile TEMPLATE cannot hold")
    lines = []
    if comment:
        lines += [f"# {line}" for line in comment.splitlines()]
    lines.append(f"FROM {source}")
    lines.append(f'TEMPLATE """{template}"""')
    for token in fmt.stop_tokens:
        lines.append(f"PARAMETER stop {json.dumps(token, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def parse_stops(text: str) -> list[str]:
    """The `PARAMETER stop` values of a Modelfile (used by tests and by the Export step's check)."""
    stops = []
    for line in text.splitlines():
        parts = line.split(None, 2)
        if len(parts) == 3 and parts[0].upper() == "PARAMETER" and parts[1] == "stop":
            value = parts[2].strip()
            stops.append(json.loads(value) if value.startswith('"') else value)
    return stops


def write_modelfile(target: str | Path, tokenizer: Any, model_dir: str | None = None, *, name: str = "") -> Path:
    """Write `Modelfile` next to `target` (a .gguf file or a merged model folder) and return its path."""
    target = Path(target)
    folder = target.parent if target.is_file() else target
    source = f"./{target.name}" if target.is_file() else "."
    model_name = name or folder.name
    text = modelfile_text(source, tokenizer, model_dir,
                          comment=f"Written by tunewiz. Create the model with:\n  ollama create {model_name} -f Modelfile")
    path = folder / "Modelfile"
    path.write_text(text, encoding="utf-8")
    return path
